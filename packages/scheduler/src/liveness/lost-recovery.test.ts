import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { connect, getVm, markVmsLost, transitionVm, upsertNode, type Sql } from "@drover/store";
import { commitTestVm, EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "@drover/store/testing";
import { defaultConfig } from "../config.js";
import { acceptHeartbeat, VANISHED_GRACE_MS, type Beat, type DomainReport, type HeartbeatDeps } from "./heartbeat.js";
import { HeartbeatBatcher } from "./heartbeat-batcher.js";
import { CIRCUIT_FAILURES, PROBE_MS, ReconcileGate } from "./reconcile-gate.js";

// A node that went DOWN comes back with the same report of RUNNING domains: its LOST VMs must be
// RUNNING again at its next beats, whatever the report memo and the reconcile gate remember from
// before (docs/benchmarks.md: at 10,000 nodes, 20,000 VMs stayed LOST behind nodes that were
// READY and reported them). Real Postgres, the real batcher, memo and gate (real clock).
describe("LOST VMs of a node that is back", () => {
  let db: TestDatabase;
  /** The test's own connection: locks rows, marks nodes DOWN, reads. */
  let sql: Sql;
  /** The scheduler's pool, whose backend the tests may cut. */
  let pool: Sql;
  let deps: HeartbeatDeps;
  let vm: string;
  let seq = 0;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    pool = connect(db.url, { max: 2 });
    await upsertNode(sql, { name: "n", address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    vm = await commitTestVm(sql, "n");
    await transitionVm(sql, vm, ["SCHEDULED"], "RUNNING", { reportGeneration: 1 });
  });
  afterAll(async () => {
    await pool?.end({ timeout: 1 });
    await db?.close();
  });
  beforeEach(async () => {
    // A fresh replica each time: its memo and gate start empty.
    deps = { sql: pool, config: defaultConfig, heartbeats: new HeartbeatBatcher(pool, 0, new ReconcileGate()), log: () => {} };
    await sql`UPDATE vms SET state = 'RUNNING', reason = '', interfaces = '[]' WHERE id = ${vm}`;
    await sql`UPDATE nodes SET state = 'READY' WHERE name = 'n'`;
  });

  const running = (extra: Partial<DomainReport> = {}): DomainReport => ({ vmId: vm, state: "running", generation: 1, ...extra });
  const beat = (domains: DomainReport[] = [running()]): Beat => ({ name: "n", bootId: "b", seq: ++seq, libvirtUnavailable: "", domains });
  const stateOf = async () => (await getVm(sql, vm))!.state;
  /** As liveness does when the node is not heard for the timeout. */
  const goDown = async () => {
    await sql`UPDATE nodes SET state = 'DOWN' WHERE name = 'n'`;
    await markVmsLost(sql, ["n"]);
    expect(await stateOf()).toBe("LOST");
  };
  /** Holds the VM's row locked in a transaction of the test's until `release` is called. */
  const lockVm = async () => {
    let release = () => {};
    let locked = () => {};
    const isLocked = new Promise<void>((r) => (locked = r));
    const done = sql.begin(async (tx) => {
      await tx`SELECT id FROM vms WHERE id = ${vm} FOR UPDATE`;
      locked();
      await new Promise<void>((r) => (release = r));
    });
    await isLocked;
    return async () => {
      release();
      await done;
    };
  };
  /** The pool's backend waiting on a row lock. */
  const waitingBackend = async (): Promise<number> => {
    for (;;) {
      const [row] = await sql<{ pid: number }[]>`
        SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()`;
      if (row) return row.pid;
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it("come back at the next beat when the revived beat's reconcile failed after a long wait (its connection cut)", async () => {
    await acceptHeartbeat(deps, beat());
    await goDown();
    const release = await lockVm();
    // The revived beat reconciles; its write waits on the lock, and then its connection is cut.
    const revived = acceptHeartbeat(deps, beat());
    const pid = await waitingBackend();
    await new Promise((r) => setTimeout(r, 1000));
    // Handled before the cut: the beat may reject before the terminate's answer arrives, and a
    // rejection with no handler by then fails the run (vitest: "Unhandled Rejection").
    const failed = expect(revived).rejects.toThrow();
    await sql`SELECT pg_terminate_backend(${pid})`;
    await failed;
    await release();
    expect(await stateOf()).toBe("LOST");
    // The same report once more: the node reports the VM running, so it is RUNNING (before: the
    // gate held the node's reconciles back for twice the failed one's second, the VM stayed LOST).
    const next = await acceptHeartbeat(deps, beat());
    expect(next.state).toBe("READY");
    expect(await stateOf()).toBe("RUNNING");
  });

  it("come back at the next beat when a slow reconcile just before the node went DOWN closed the gate", async () => {
    await acceptHeartbeat(deps, beat());
    // A changed report (new addresses) whose write waits 1.5 s for a lock: a slow reconcile.
    const release = await lockVm();
    const slow = acceptHeartbeat(deps, beat([running({ interfaces: [{ mac: "52:54:00:00:00:01", addresses: ["192.0.2.7/24"] }] })]));
    await waitingBackend();
    await new Promise((r) => setTimeout(r, 1500));
    await release();
    await slow;
    await goDown();
    // Revived within the hold (twice 1.5 s): before, this and the next beats were held back and the VM stayed LOST.
    const back = await acceptHeartbeat(deps, beat([running({ interfaces: [{ mac: "52:54:00:00:00:01", addresses: ["192.0.2.7/24"] }] })]));
    expect(back.state).toBe("READY");
    expect(await stateOf()).toBe("RUNNING");
  });

  it("come back at the next beat on a replica whose memo settled the report, when a late beat revived the node elsewhere", async () => {
    // Replica A settles the node's report; the node goes DOWN, and a late beat (an older seq) to
    // replica B revives it without a reconcile (a late beat never reconciles).
    const a = deps;
    await acceptHeartbeat(a, beat());
    await acceptHeartbeat(a, beat());
    await goDown();
    const b: HeartbeatDeps = { ...a, heartbeats: new HeartbeatBatcher(pool, 0, new ReconcileGate()) };
    expect((await acceptHeartbeat(b, { ...beat(), seq: 1 })).state).toBe("READY");
    expect(await stateOf()).toBe("LOST");
    // The node's next beat goes to A, with the very report A's memo holds.
    await acceptHeartbeat(a, beat());
    expect(await stateOf()).toBe("RUNNING");
  });

  // The other direction: a domain that is really gone when its node returns never makes its VM RUNNING.
  it("stay off RUNNING when the node comes back without their domain, and are re-created once past the grace", async () => {
    await acceptHeartbeat(deps, beat());
    await goDown();
    const back = await acceptHeartbeat(deps, beat([]));
    expect(back.state).toBe("READY");
    expect(await stateOf()).toBe("LOST");
    expect((await acceptHeartbeat(deps, beat([]))).destroyVmIds).toEqual([]);
    expect(await stateOf()).toBe("LOST");
    // DOWN longer than the grace: the domain counts as vanished, and the VM is SCHEDULED to be re-created from its spec.
    await sql`UPDATE vms SET updated_at = now() - make_interval(secs => ${(VANISHED_GRACE_MS + 1000) / 1000}) WHERE id = ${vm}`;
    await acceptHeartbeat(deps, beat([]));
    const after = (await getVm(sql, vm))!;
    expect(after.state).toBe("SCHEDULED");
    expect(after.reason).toMatch(/domain vanished from node n/);
  });

  it("come back within PROBE_MS and a beat once the database answers, the reconciles backing off while it refused them", async () => {
    await acceptHeartbeat(deps, beat());
    await goDown();
    // The reconciles' pool reaches no database (the beats' own pool still records them, as in server.ts).
    const unreachable = connect("postgres://postgres@127.0.0.1:1/drover", { max: 2 });
    const sick: HeartbeatDeps = { ...deps, sql: unreachable };
    let tried = 0;
    let failed = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 3000) {
      tried++;
      await acceptHeartbeat(sick, beat()).catch(() => failed++);
      await new Promise((r) => setTimeout(r, 20));
    }
    await unreachable.end({ timeout: 0 });
    // Before: every beat's reconcile failed. After: CIRCUIT_FAILURES, then one per PROBE_MS; the other beats are answered.
    expect(failed).toBeLessThanOrEqual(CIRCUIT_FAILURES + Math.ceil(3000 / PROBE_MS) + 1);
    expect(failed).toBeLessThan(tried / 2);
    expect(await stateOf()).toBe("LOST");
    // The database answers again: the VM is RUNNING within the probe interval and a beat.
    const back = performance.now();
    while ((await stateOf()) !== "RUNNING" && performance.now() - back < 5000) {
      await acceptHeartbeat(deps, beat()).catch(() => {});
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await stateOf()).toBe("RUNNING");
    expect(performance.now() - back).toBeLessThan(PROBE_MS + 1000);
  });

  it("are STOPPED, not RUNNING, when the node comes back with their domain shut off", async () => {
    await acceptHeartbeat(deps, beat());
    await goDown();
    await acceptHeartbeat(deps, beat([running({ state: "shutoff" })]));
    expect(await stateOf()).toBe("STOPPED");
  });
});
