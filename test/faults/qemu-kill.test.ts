// Fault: QEMU killed (kill -9) under running VMs. Before, libvirt's "shut off (crashed)" was
// recorded as a plain STOPPED with an empty reason and a drover.vm.stopped event, and nothing
// brought the VM back. Now the VM is CRASHED with the reason and a drover.vm.crashed event, and its
// restart policy decides: on-crash and always start it again (a new QEMU), never leaves it CRASHED;
// a crash loop ends FAILED with its claim released. The invariants hold throughout.
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type RunningAgent } from "@drover/agent";
import { VmState, type Vm } from "@drover/proto";
import { defaultConfig, startScheduler, type RunningScheduler } from "@drover/scheduler";
import { connect, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { apiClient, type ApiClient } from "../support/clients.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";
import { killQemu, qemuPid, qemuStateDir } from "../e2e/qemu-host.js";
import { expectInvariants } from "./invariants.js";
import { privateNats } from "./services.js";

const WITHIN_MS = 20_000;

describe("fault: QEMU killed under running VMs", () => {
  let db: { url: string; drop(): Promise<void> };
  let sql: Sql;
  let nats: Awaited<ReturnType<typeof privateNats>>;
  let scheduler: RunningScheduler;
  let agent: RunningAgent;
  let api: ApiClient;
  const stateDir = qemuStateDir("drover-qemu-kill-");
  const log: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = connect(db.url);
    nats = await privateNats();
    scheduler = await startScheduler(
      { ...defaultConfig, insecure: true, databaseUrl: db.url, natsUrl: nats.url, listen: "127.0.0.1:0", metricsListen: "", tickMs: 50, heartbeatIntervalMs: 500, restartLimit: 1, restartBackoffMs: 200 },
      (m) => log.push(m),
    );
    agent = await startAgent(
      { insecure: true, nodeName: "qk", libvirtUri: "qemu:///system", listen: "127.0.0.1:0", schedulerAddress: scheduler.address, heartbeatIntervalMs: 300, relistIntervalMs: 500, stateDir },
      { log: (m) => log.push(`agent: ${m}`) },
    );
    await agent.registered();
    api = apiClient(scheduler.address);
  });
  afterAll(async () => {
    // Whatever a failed assertion left: the VMs' domains go with a delete, then the cluster.
    for (const vm of (await api?.listVms().catch(() => ({ vms: [] as Vm[] })))?.vms ?? []) await api.deleteVm(vm.id).catch(() => {});
    await waitFor("domains deleted", async () => ((await sql`SELECT 1 FROM vms WHERE state = 'DELETING'`).length === 0 ? true : undefined), WITHIN_MS).catch(() => {});
    api?.close();
    await agent?.stop();
    await scheduler?.stop();
    await nats?.stop();
    await sql?.end();
    await db?.drop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const vmsIn = async (state: VmState) => (await api.listVms()).vms.filter((v) => v.state === state);

  it("crashes are CRASHED with drover.vm.crashed, the restart policy decides, a crash loop ends FAILED; invariants hold", async () => {
    const group = (name: string, restartPolicy: string, count: number) => ({ template: vmSpec(name, 1, 128, { restartPolicy }), count });
    const res = await api.createVms({ groups: [group("oc", "on-crash", 2), group("nv", "never", 1), group("al", "always", 1)] });
    expect(res.vms).toHaveLength(4);
    await waitFor("4 VMs RUNNING", async () => ((await vmsIn(VmState.VM_STATE_RUNNING)).length === 4 ? true : undefined), 60_000);
    const byPolicy = (p: string) => res.vms.filter((v) => v.spec!.restartPolicy === p).map((v) => v.id);
    const [onCrash, never, always] = [byPolicy("on-crash"), byPolicy("never"), byPolicy("always")];

    // The fault: every QEMU killed at once.
    const killed = new Map(res.vms.map((v) => [v.id, killQemu(v.id)]));
    const restarted = [...onCrash, ...always];
    await waitFor("on-crash and always VMs RUNNING on a new QEMU, the never one CRASHED", async () => {
      for (const id of restarted) {
        const pid = qemuPid(id);
        if (pid === undefined || pid === killed.get(id) || (await api.getVm(id)).state !== VmState.VM_STATE_RUNNING) return undefined;
      }
      return (await api.getVm(never[0]!)).state === VmState.VM_STATE_CRASHED ? true : undefined;
    }, WITHIN_MS).catch(async (err: Error) => {
      const now = await Promise.all(res.vms.map(async (v) => `${v.spec!.name} ${VmState[(await api.getVm(v.id)).state]} ${(await api.getVm(v.id)).reason} pid ${qemuPid(v.id)}`));
      throw new Error(`${err.message}: ${now.join("; ")}; scheduler log: ${log.slice(-30).join(" | ")}`, { cause: err });
    });
    const crashedEvents = await sql<{ vm: string }[]>`SELECT payload->>'vmId' AS vm FROM outbox WHERE subject = 'drover.vm.crashed'`;
    expect(new Set(crashedEvents.map((e) => e.vm))).toEqual(new Set(res.vms.map((v) => v.id)));
    expect((await sql`SELECT 1 FROM outbox WHERE subject = 'drover.vm.stopped'`).length).toBe(0);
    expect((await api.getVm(never[0]!)).reason).toMatch(/^crashed on node qk \(libvirt: shut off \(crashed\)\); restart policy never/);

    // Again for the on-crash VMs: over the limit of 1 restart, FAILED, claims released, domains gone.
    for (const id of onCrash) killQemu(id);
    await waitFor("the on-crash VMs FAILED", async () => ((await vmsIn(VmState.VM_STATE_FAILED)).length === 2 ? true : undefined), WITHIN_MS);
    for (const id of onCrash) expect((await api.getVm(id)).reason).toMatch(/^restart policy gave up: 2 crashes within 600 s \(limit 1\)/);
    expect((await api.getNode("qk")).allocated!.memoryMib).toBe(2 * 128);

    await expectInvariants(sql, [agent], nats.url);
    await waitFor("FAILED VMs' domains destroyed", async () => {
      const left = onCrash.filter((id) => qemuPid(id) !== undefined);
      return left.length === 0 ? true : undefined;
    }, WITHIN_MS);
  });
});
