import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getVm, markRunning, markVmsLost, takeDueProvisioning, transitionVm, upsertNode, type Sql } from "@drover/store";
import { commitTestVm, EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "@drover/store/testing";
import { defaultConfig } from "../config.js";
import { acceptHeartbeat, type Beat, type HeartbeatDeps } from "./heartbeat.js";
import { HeartbeatBatcher } from "./heartbeat-batcher.js";
import { ReconcileGate } from "./reconcile-gate.js";
import { ReportMemo } from "./report-memo.js";
import { RunningMarker } from "../dispatch/running-marker.js";
import { vmTimersTick } from "../vms/vm-timers.js";

// Beats here come back to back: on a loaded machine a reconcile may take the gate's 50 ms and hold
// the next beat back (reconcile-gate.ts), which these tests do not test. Its clock stands still.
const unhurriedGate = () => new ReconcileGate(() => 0);

// A beat whose report is the same as at its node's last reconcile costs one batched statement
// (the beat's record) and no reconcile; a revived node reconciles at once.
describe("heartbeat fast path on real Postgres", () => {
  let db: TestDatabase;
  let sql: Sql;
  let deps: HeartbeatDeps;
  let vm: string;
  const statements: string[] = [];

  beforeAll(async () => {
    db = await openTestDatabase({ debug: (q) => statements.push(q) });
    sql = db.sql;
    await upsertNode(sql, { name: "n", address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    vm = await commitTestVm(sql, "n");
    await transitionVm(sql, vm, ["SCHEDULED"], "RUNNING", { reportGeneration: 1 });
    deps = { sql, config: defaultConfig, heartbeats: new HeartbeatBatcher(sql, 0, unhurriedGate()), log: () => {} };
  });
  afterAll(async () => {
    await db?.close();
  });

  let seq = 0;
  const beat = (): Beat => ({ name: "n", bootId: "b", seq: ++seq, libvirtUnavailable: "", domains: [{ vmId: vm, state: "running", generation: 1 }] });
  const sent = async (b: Beat) => {
    statements.length = 0;
    const res = await acceptHeartbeat(deps, b);
    return { res, n: statements.length };
  };

  it("runs no reconcile for a report unchanged since the last one", async () => {
    const first = await sent(beat());
    expect(first.res).toEqual({ state: "READY", destroyVmIds: [] });
    expect(first.n).toBeGreaterThan(1); // the record, then the reconcile's statements
    const again = await sent(beat());
    expect(again.res).toEqual({ state: "READY", destroyVmIds: [] });
    expect(again.n).toBe(1); // the record only
  });

  // Most reconciles change nothing (a new domain of a VM already RUNNING): one read says so, and no
  // write statement runs (each fired the vms triggers and cost ~0.45 ms of Postgres CPU, rows or not).
  // An agent the beat-rate cap slowed to 10 s says so in each beat: its beats a little late are
  // within the timeout they allow (50 s), not stale against the configured 10 s.
  it("keeps a node that says it beats every 10 s on the fast path when its beats come 10.2 s apart", async () => {
    let now = 0;
    const slowed: HeartbeatDeps = { ...deps, heartbeats: new HeartbeatBatcher(sql, 0, unhurriedGate(), new ReportMemo(() => now)) };
    const sentSlowed = async () => {
      statements.length = 0;
      await acceptHeartbeat(slowed, { ...beat(), intervalMs: 10_000 });
      return statements.length;
    };
    expect(await sentSlowed()).toBeGreaterThan(1); // the first: reconciled
    for (let i = 0; i < 5; i++) {
      now += 10_200;
      expect(await sentSlowed()).toBe(1); // the record only
    }
  });

  it("reconciles a changed report that changes nothing with one read after the record", async () => {
    await sent(beat());
    const other = await sent({ ...beat(), domains: [{ vmId: vm, state: "running", generation: 1, reason: "booted" }] });
    expect(other.res).toEqual({ state: "READY", destroyVmIds: [] });
    expect(other.n).toBe(2);
  });

  it("reconciles a node brought back from DOWN at once: its LOST VMs are RUNNING again", async () => {
    await sent(beat());
    await sql`UPDATE nodes SET state = 'DOWN' WHERE name = 'n'`;
    await markVmsLost(sql, ["n"]);
    expect((await getVm(sql, vm))!.state).toBe("LOST");
    const back = await sent(beat());
    expect(back.res.state).toBe("READY");
    expect((await getVm(sql, vm))!.state).toBe("RUNNING");
  });

  // A VM the scheduler fails by time (a crash loop past the restart limit) changes no domain
  // report, yet its domain is now a stray to destroy: its node's next beat must reconcile, on
  // every replica (the timer may run on any; nothing tells this one's memo but the VM change count).
  it("reconciles the node of a VM the restart timer FAILED, so its crashed domain is destroyed", async () => {
    await sql`UPDATE vms SET state = 'CRASHED', crash_count = ${defaultConfig.restartLimit + 1}, due_at = now() + interval '1 hour' WHERE id = ${vm}`;
    const crashed = (): Beat => ({ ...beat(), domains: [{ vmId: vm, state: "crashed", generation: 2, reason: "shut off (crashed)" }] });
    expect((await sent(crashed())).res.destroyVmIds).toEqual([]);
    expect((await sent(crashed())).n).toBe(1); // settled: the fast path
    await sql`UPDATE vms SET due_at = now() WHERE id = ${vm}`;
    await vmTimersTick(sql, defaultConfig, () => {}, () => {});
    expect((await getVm(sql, vm))!.state).toBe("FAILED");
    expect((await sent(crashed())).res.destroyVmIds).toEqual([vm]);
  });
});

// At 5,000 hosts most of a created VM's Postgres cost was the beat after it: its node's report has
// the new domain and its VM change count the RUNNING mark, so the node reconciled in full. The
// replica that marked it knows exactly what it wrote (RunningMarker tells its memo); anything else
// still reconciles.
describe("the beat after this replica's own RUNNING mark, on real Postgres", () => {
  let db: TestDatabase;
  let sql: Sql;
  const statements: string[] = [];
  let node = 0;

  beforeAll(async () => {
    db = await openTestDatabase({ debug: (q) => statements.push(q) });
    sql = db.sql;
  });
  afterAll(async () => {
    await db?.close();
  });

  /** A node with a RUNNING VM on the fast path, and a new VM PROVISIONING on it (leased for its dispatch). */
  const nodeWithNewVm = async () => {
    const name = `m${++node}`;
    await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    const old = await commitTestVm(sql, name);
    await transitionVm(sql, old, ["SCHEDULED"], "RUNNING", { reportGeneration: 1 });
    const created = await commitTestVm(sql, name);
    expect((await takeDueProvisioning(sql, 10, 60_000)).map((v) => v.id)).toContain(created);
    const deps: HeartbeatDeps = { sql, config: defaultConfig, heartbeats: new HeartbeatBatcher(sql, 0, unhurriedGate()), log: () => {} };
    let seq = 0;
    const sent = async (domains: Beat["domains"]) => {
      statements.length = 0;
      const res = await acceptHeartbeat(deps, { name, bootId: "b", seq: ++seq, libvirtUnavailable: "", domains });
      expect(res).toEqual({ state: "READY", destroyVmIds: [] });
      return statements.length;
    };
    const before = [{ vmId: old, state: "running" as const, generation: 1 }];
    const after = [...before, { vmId: created, state: "running" as const, generation: 5 }];
    expect(await sent(before)).toBeGreaterThan(1); // reconciled
    expect(await sent(before)).toBe(1); // the fast path
    return { name, old, created, deps, sent, before, after };
  };

  it("takes the fast path for the beat after its mark: one statement, the beat's record", async () => {
    const n = await nodeWithNewVm();
    expect(await new RunningMarker(sql, n.deps.heartbeats.reports).mark(n.created, 5)).toBe(false);
    expect(await n.sent(n.after)).toBe(1);
    expect(await n.sent(n.after)).toBe(1);
    expect((await getVm(sql, n.created))!).toMatchObject({ state: "RUNNING", node: n.name });
  });

  it("reconciles in full after a mark of another replica, or a change to a VM row besides the mark", async () => {
    const other = await nodeWithNewVm();
    // Another replica's mark: its memo, not this one's, hears of it.
    expect(await new RunningMarker(sql, new ReportMemo()).mark(other.created, 5)).toBe(false);
    expect(await other.sent(other.after)).toBeGreaterThan(1);
    expect(await other.sent(other.after)).toBe(1);

    const edited = await nodeWithNewVm();
    expect(await new RunningMarker(sql, edited.deps.heartbeats.reports).mark(edited.created, 5)).toBe(false);
    await sql`UPDATE vms SET reason = 'edited by hand' WHERE id = ${edited.old}`;
    expect(await edited.sent(edited.after)).toBeGreaterThan(1);

    const unmarked = await nodeWithNewVm();
    await markRunning(sql, [{ id: unmarked.created, generation: 5 }]);
    expect(await unmarked.sent(unmarked.after)).toBeGreaterThan(1);
  });

  it("reconciles in full when the new domain is not running as marked, and finds it so", async () => {
    const n = await nodeWithNewVm();
    expect(await new RunningMarker(sql, n.deps.heartbeats.reports).mark(n.created, 5)).toBe(false);
    expect(await n.sent([...n.before, { vmId: n.created, state: "shutoff", generation: 6 }])).toBeGreaterThan(1);
    expect((await getVm(sql, n.created))!.state).toBe("STOPPED");
  });
});
