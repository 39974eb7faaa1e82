// One legal request must not starve the heartbeats: a CreateVms of 4,000 VMs packed onto 4 hosts.
// Before the agent kept its domain states incrementally it relisted every domain (4 libvirt calls
// each) after every call it served, so the work grew with the square of the bulk: all 4 nodes went
// DOWN (oldest heartbeat 21 s), 904 VMs FAILED and 4,286 vm.lost events were written.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig } from "@drover/scheduler";
import { claimLedger } from "@drover/store/testing";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { listDomains } from "../support/agent-client.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

const VMS = Number(process.env.DROVER_FAULT_BULK_VMS ?? 4000);
const HOSTS = 4;
// 1 vCPU / 64 MiB each; room for 5 % more than an even share.
const PER_HOST = Math.ceil((VMS / HOSTS) * 1.05);

describe(`a CreateVms of ${VMS} VMs onto ${HOSTS} hosts`, () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster(
      Array.from({ length: HOSTS }, (_, i) => ({ name: `g${i + 1}`, vcpus: PER_HOST, memoryMib: PER_HOST * 64 })),
      // Default liveness timing (heartbeats asked every 2 s, DOWN after 10 s of silence).
      { heartbeatIntervalMs: defaultConfig.heartbeatIntervalMs, heartbeatTimeoutMs: defaultConfig.heartbeatTimeoutMs },
    );
  });
  afterAll(() => cluster?.stop());

  it("starts every VM with no node DOWN, claims that add up, and each VM on exactly one host", async () => {
    const { sql } = cluster.scheduler;
    const downSeen = new Set<string>();
    let oldestBeatMs = 0;
    let watching = true;
    const watch = (async () => {
      while (watching) {
        const rows = await sql<{ name: string; state: string; age_ms: number }[]>`
          SELECT n.name, n.state, extract(epoch FROM now() - h.at) * 1000 AS age_ms FROM nodes n JOIN node_heartbeats h USING (name)`;
        for (const r of rows) {
          if (r.state === "DOWN") downSeen.add(r.name);
          oldestBeatMs = Math.max(oldestBeatMs, Number(r.age_ms));
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    })();

    const started = Date.now();
    const res = await cluster.api.createVms({ template: vmSpec("bulk", 1, 64), count: VMS });
    expect(res.vms).toHaveLength(VMS);
    await waitFor(
      `all ${VMS} VMs RUNNING`,
      async () => {
        const [row] = await sql<{ running: number; settled: number }[]>`
          SELECT count(*) FILTER (WHERE state = 'RUNNING')::int AS running,
            count(*) FILTER (WHERE state NOT IN ('SCHEDULED', 'PROVISIONING'))::int AS settled FROM vms`;
        if (row!.settled === VMS) return row;
        return undefined;
      },
      55_000,
      250,
    );
    watching = false;
    await watch;
    const tookS = (Date.now() - started) / 1000;

    const states = await sql<{ state: string; n: number }[]>`SELECT state, count(*)::int AS n FROM vms GROUP BY state`;
    expect(Object.fromEntries(states.map((s) => [s.state, s.n]))).toEqual({ RUNNING: VMS });
    expect([...downSeen]).toEqual([]);
    const [lost] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE subject = 'drover.vm.lost'`;
    expect(lost!.n).toBe(0);
    // Well inside the 10 s timeout (the agents beat every 200 ms here, as startTestCluster sets them).
    expect(oldestBeatMs).toBeLessThan(5000);

    // Claims per node equal the sum of its claimed VM rows, and stay within allocatable.
    const nodes = await cluster.api.listNodes();
    for (const n of await claimLedger(sql)) {
      expect(n.allocated).toEqual(n.claimed);
      const node = nodes.find((x) => x.name === n.node)!;
      expect(n.allocated.vcpus).toBeLessThanOrEqual(node.allocatable!.vcpus);
      expect(n.allocated.memoryMib).toBeLessThanOrEqual(node.allocatable!.memoryMib);
    }

    // No VM twice: every VM's domain is on exactly one host, the one the scheduler says.
    const placed = new Map((await sql<{ id: string; node: string }[]>`SELECT id::text, node FROM vms`).map((v) => [v.id, v.node]));
    const seen = new Map<string, string[]>();
    for (const a of cluster.agents) for (const d of await listDomains(a.address)) seen.set(d.vmId, [...(seen.get(d.vmId) ?? []), a.name]);
    expect(seen.size).toBe(VMS);
    for (const [vmId, hosts] of seen) expect(hosts).toEqual([placed.get(vmId)]);
    console.log(`${VMS} VMs onto ${HOSTS} hosts: all RUNNING after ${tookS.toFixed(1)} s; oldest heartbeat seen ${Math.round(oldestBeatMs)} ms`);
  }, 120_000);
});
