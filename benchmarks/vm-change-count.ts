// What the per-node VM change count (migrations 027 and 035) costs Postgres: the heartbeat record
// statement, which also reads each node's count, and VM row writes, which append to vm_changes
// through triggers on vms: an update of one VM, of a node's two, one that matches no row (the
// liveness loop's timers), and the dispatcher's lease and RUNNING mark of 24 VMs on 24 nodes (the
// single-create path). Each build runs on a database its own migrations made; the cost is the
// Postgres backend's CPU time (/proc/<pid>/schedstat of the one connection), so other load on the
// machine counts only as far as it slows this backend.
//
//   npx tsc -b && node --import tsx benchmarks/vm-change-count.ts --before=DIR [--nodes=500] [--rounds=200] [--dispatch-batch=24]
//
// --before=DIR: another checkout, built with `npx tsc -b` (e.g. a git worktree of the commit
// before the change); its packages/store/dist is the "before" store.
import { readFileSync } from "node:fs";
import * as after from "@drover/store";
import { createTestDatabase, EXACT_CAPACITY, placedRequest } from "@drover/store/testing";
import { importBuilt, numberFlag, requiredBeforeDir } from "./flags.js";

type Store = typeof after;

const NODES = numberFlag("nodes", 500);
const ROUNDS = numberFlag("rounds", 200);
const BATCH = 100; // beats per record statement (the batcher groups what arrives within 20 ms)
// VMs per lease and RUNNING mark: 24 as bench:api's 64 clients made them; a bulk's are larger.
const DISPATCH_BATCH = numberFlag("dispatch-batch", 24);
const DISPATCH_ROUNDS = Math.max(1, Math.round(ROUNDS / 5));

/** CPU time the backend has used so far, in µs (schedstat: nanoseconds, not clock ticks). */
function backendCpuUs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1000;
}

async function measure(label: string, store: Store): Promise<string[]> {
  const db = await createTestDatabase();
  const sql = store.connect(db.url, { max: 1 });
  try {
    await store.migrate(sql);
    const names = Array.from({ length: NODES }, (_, i) => `n${i}`);
    for (const name of names) await store.upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 64, memoryMib: 65536, diskGib: 100, labels: {} }, EXACT_CAPACITY);
    // Two VMs on every node (their claims summed per node by commitPlacements).
    const initial = placedRequest(names.flatMap((node) => [node, node]), 256, { name: "v" });
    await store.commitPlacements(sql, initial);
    const { vms } = initial;
    // The liveness loop folds the change rows every second: beats count a node's few rows.
    if ("foldVmChanges" in store) await store.foldVmChanges(sql);
    await sql`ANALYZE`;
    const pid = (await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]!.pid;
    let seq = 0;

    // Heartbeats: every node beats once a round, BATCH beats to a statement.
    const r0 = backendCpuUs(pid);
    for (let round = 0; round < ROUNDS; round++) {
      seq++;
      for (let i = 0; i < NODES; i += BATCH) await store.recordHeartbeats(sql, names.slice(i, i + BATCH).map((name) => ({ name, bootId: "b", seq })));
    }
    const recordUs = (backendCpuUs(pid) - r0) / (ROUNDS * NODES);

    // VM writes: one VM a statement (a stop and a start), then one node's VMs in one statement.
    const w0 = backendCpuUs(pid);
    const singles = Math.min(vms.length, 1000);
    for (const v of vms.slice(0, singles)) {
      await store.transitionVm(sql, v.id, ["SCHEDULED"], "RUNNING");
    }
    const singleUs = (backendCpuUs(pid) - w0) / singles;
    const b0 = backendCpuUs(pid);
    const bulk = 1000;
    for (let i = 0; i < bulk; i++) await sql`UPDATE vms SET updated_at = now() WHERE node = ${names[i % NODES]!}`;
    const nodeUs = (backendCpuUs(pid) - b0) / bulk;

    // The liveness loop's timers: updates that match no row, several a second.
    const z0 = backendCpuUs(pid);
    for (let i = 0; i < 1000; i++) await sql`UPDATE vms SET state = 'SCHEDULED', due_at = now() WHERE state = 'CRASHED' AND due_at <= now()`;
    const zeroUs = (backendCpuUs(pid) - z0) / 1000;

    // The dispatcher's statements of single creates: 24 VMs on 24 nodes leased, then marked RUNNING.
    let leaseUs = 0;
    let runningUs = 0;
    for (let round = 0; round < DISPATCH_ROUNDS; round++) {
      // On DISPATCH_BATCH consecutive nodes, round after round; more VMs than nodes put several on each.
      const placed = placedRequest(Array.from({ length: DISPATCH_BATCH }, (_, i) => names[(round * DISPATCH_BATCH + i) % NODES]!), 256, { name: "d" });
      await store.commitPlacements(sql, placed);
      const l0 = backendCpuUs(pid);
      const leased = await store.takeDueProvisioning(sql, DISPATCH_BATCH, 60_000);
      const m0 = backendCpuUs(pid);
      await store.markRunning(sql, leased.map((v) => ({ id: v.id, generation: 1 })));
      runningUs += backendCpuUs(pid) - m0;
      leaseUs += m0 - l0;
      if (leased.length !== placed.vms.length) throw new Error(`${label}: leased ${leased.length} of ${placed.vms.length}`);
      await store.foldVmChanges(sql);
    }
    const per = (us: number) => (us / DISPATCH_ROUNDS).toFixed(0);
    return [`| ${label} | ${NODES} | ${recordUs.toFixed(1)} µs | ${singleUs.toFixed(0)} µs | ${nodeUs.toFixed(0)} µs | ${zeroUs.toFixed(0)} µs | ${per(leaseUs)} µs | ${per(runningUs)} µs |`];
  } finally {
    await sql.end();
    await db.drop();
  }
}

async function main(): Promise<void> {
  const before = await importBuilt<Store>(requiredBeforeDir(), "packages/store/dist/index.js");
  const rows: string[] = [];
  // Twice each, interleaved, so a change in the machine's load shows as a spread between the pairs.
  for (const i of [1, 2]) {
    rows.push(...(await measure(`before (${i})`, before)));
    rows.push(...(await measure(`after (${i})`, after)));
  }
  console.log(`\nPostgres backend CPU, ${NODES} nodes × 2 VMs, ${ROUNDS} rounds of beats in statements of ${BATCH}\n`);
  console.log(`| build | nodes | per beat recorded | per one-VM transition | per 2-VM node update | per update of no row | per lease of ${DISPATCH_BATCH} VMs | per RUNNING mark of ${DISPATCH_BATCH} |`);
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(r);
}

await main();
