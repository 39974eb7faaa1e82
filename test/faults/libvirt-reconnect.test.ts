// The agent reconnects to libvirt. Before, a connection that libvirtd dropped (or lost by
// restarting) made every call fail with "client socket is closed" until the agent was restarted:
// the node went DOWN and its VMs LOST although QEMU kept running, and creates got
// RESOURCE_EXHAUSTED. Now the agent keeps heartbeating, the node is DEGRADED (takes no new VMs, its
// VMs are not LOST), and after reconnecting the agent re-reads its domains and the node is READY.
//
// A real fault, no injection: the agent of node "flaky" talks to the shared libvirtd over its unix
// socket (test+unix://, libvirt's test driver inside the daemon), and the test drops that client with
// `virt-admin client-disconnect libvirtd <id>`, found by our pid in `virt-admin srv-clients-list`.
// The daemon's test driver keeps no state across connections (it reads the host file on each open),
// so the test stands in for "QEMU kept running" by writing the domains into the host file while the
// agent is disconnected, one of them shut off: a state the agent must pick up when it reconnects.
// While the file is away, reconnecting fails, which holds the node DEGRADED for as long as the test needs.
import { execFileSync } from "node:child_process";
import { mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeState, VmSpec, VmState } from "@drover/proto";
import { buildDomainXml } from "@drover/agent";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

const HOST = (domains = "") =>
  `<node><cpu><nodes>1</nodes><sockets>1</sockets><cores>8</cores><threads>1</threads><active>8</active>` +
  `<mhz>2000</mhz><model>x86_64</model></cpu><memory>${16 * 1024 * 1024}</memory>${domains}</node>\n`;

const virtAdmin = (...args: string[]) => execFileSync("virt-admin", args, { encoding: "utf8" });

function libvirtdUsable(): boolean {
  try {
    virtAdmin("srv-clients-list", "libvirtd");
    return true;
  } catch {
    return false;
  }
}

/** Drops every libvirtd client of this process (only the "flaky" agent's connection goes through libvirtd); how many. */
function disconnectOurClients(): number {
  let dropped = 0;
  for (const line of virtAdmin("srv-clients-list", "libvirtd").split("\n").slice(2)) {
    const id = line.trim().split(/\s+/)[0];
    if (!id || !/^\d+$/.test(id)) continue;
    let info: string;
    try {
      info = virtAdmin("client-info", "libvirtd", id);
    } catch {
      continue; // gone meanwhile
    }
    if (Number(/unix_process_id\s*:\s*(\d+)/.exec(info)?.[1]) !== process.pid) continue;
    virtAdmin("client-disconnect", "libvirtd", id);
    dropped++;
  }
  return dropped;
}

/** A test-driver domain the daemon creates when it reads the host file; shut off with `off`. */
function domainXml(clusterId: string, vmId: string, spec: VmSpec, off: boolean): string {
  const xml = buildDomainXml({ vmId, clusterId }, spec, "test").replace("<domain ", "<domain xmlns:test='http://libvirt.org/schemas/domain/test/1.0' ");
  return off ? xml.replace("</domain>", "  <test:runstate>5</test:runstate>\n</domain>") : xml;
}

describe.skipIf(!libvirtdUsable())("the agent loses its libvirt connection", () => {
  const dir = mkdtempSync(join(tmpdir(), "drover-reconnect-"));
  const hostFile = join(dir, "host.xml");
  let cluster: TestCluster;

  beforeAll(async () => {
    writeFileSync(hostFile, HOST());
    cluster = await startTestCluster(
      [
        { name: "flaky", vcpus: 8, memoryMib: 16384, libvirtUri: `test+unix://${hostFile}`, stateDir: join(dir, "state") },
        { name: "steady", vcpus: 8, memoryMib: 16384 },
      ],
      { heartbeatTimeoutMs: 3000 },
    );
  });
  afterAll(() => cluster?.stop());

  it("is DEGRADED meanwhile (not DOWN, VMs not LOST, nothing placed there), then READY with its domains re-read", async () => {
    const { api } = cluster;
    await api.cordonNode("steady");
    const { vms } = await api.createVms({ template: vmSpec("kept", 1, 256), count: 2 });
    await api.uncordonNode("steady");
    await waitFor("VMs RUNNING on flaky", async () => {
      const now = await Promise.all(vms.map((v) => api.getVm(v.id)));
      return now.every((v) => v.state === VmState.VM_STATE_RUNNING && v.node === "flaky") ? true : undefined;
    });
    const [kept, shutOff] = vms as [(typeof vms)[0], (typeof vms)[0]];

    // libvirtd "restarts": the host file is away (reconnects fail), and our connection is dropped.
    const [identity] = await cluster.scheduler.sql<{ id: string }[]>`SELECT id::text FROM cluster_identity`;
    const clusterId = identity!.id;
    const next = HOST(domainXml(clusterId, kept.id, kept.spec!, false) + domainXml(clusterId, shutOff.id, shutOff.spec!, true));
    renameSync(hostFile, `${hostFile}.away`);
    await waitFor("our libvirtd client dropped", async () => (disconnectOurClients() > 0 ? true : undefined), 5000, 50);

    const degraded = await waitFor("flaky DEGRADED", async () => {
      const n = await api.getNode("flaky");
      return n.state === NodeState.NODE_STATE_DEGRADED ? n : undefined;
    });
    expect(degraded.reason).not.toBe("");
    // Longer than the heartbeat timeout (3 s): the node stays DEGRADED, never DOWN, its VMs not LOST.
    const until = Date.now() + 4000;
    while (Date.now() < until) {
      expect((await api.getNode("flaky")).state).toBe(NodeState.NODE_STATE_DEGRADED);
      for (const v of vms) expect((await api.getVm(v.id)).state).toBe(VmState.VM_STATE_RUNNING);
      await new Promise((r) => setTimeout(r, 250));
    }
    // No new placements there: a create goes to steady; with steady cordoned too, the refusal says why.
    const more = await api.createVms({ template: vmSpec("new", 1, 256), count: 3 });
    expect(more.vms.map((v) => v.node)).toEqual(["steady", "steady", "steady"]);
    await api.cordonNode("steady");
    const refused = await api.createVms({ template: vmSpec("none", 1, 256), count: 1 }).catch((e: Error) => e);
    expect((refused as Error).message).toMatch(/degraded/);

    // libvirtd is back, with the domains; one was shut off meanwhile.
    writeFileSync(`${hostFile}.next`, next);
    renameSync(`${hostFile}.next`, hostFile);
    await waitFor("flaky READY", async () => ((await api.getNode("flaky")).state === NodeState.NODE_STATE_READY ? true : undefined), 15_000);
    expect((await api.getNode("flaky")).reason).toBe("");
    await waitFor("the shut-off domain reconciled", async () =>
      (await api.getVm(shutOff.id)).state === VmState.VM_STATE_STOPPED ? true : undefined,
    );
    expect((await api.getVm(kept.id)).state).toBe(VmState.VM_STATE_RUNNING);
    // And it takes VMs again.
    await api.cordonNode("steady");
    const after = await api.createVms({ template: vmSpec("after", 1, 256), count: 1 });
    expect(after.vms[0]!.node).toBe("flaky");
    await waitFor("the new VM RUNNING on flaky", async () =>
      (await api.getVm(after.vms[0]!.id)).state === VmState.VM_STATE_RUNNING ? true : undefined,
    );
  }, 90_000);
});
