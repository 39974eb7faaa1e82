// The liveness tick's judgement statement (store markSilentNodesDown) on real Postgres: what one
// call costs at N nodes that all beat in time (the steady state: nothing goes DOWN), wall time and
// the Postgres backend's CPU, and whether Postgres JIT-compiled it (pg_stat_statements not needed:
// EXPLAIN ANALYZE says). Every replica runs it once a second.
//   node --import tsx benchmarks/liveness-tick.ts [--nodes=5000,10000] [--calls=50]
import { connect, markSilentNodesDown, recordHeartbeats, type Sql } from "@drover/store";
import { openTestDatabase } from "@drover/store/testing";
import { backendsCpuNs, backendsMsSince } from "./backend-cpu.js";
import { median, table } from "./common.js";
import { flag, numberFlag } from "./flags.js";

const SIZES = (flag("nodes") ?? "5000,10000").split(",").map(Number);
const CALLS = numberFlag("calls", 50);

async function fleet(sql: Sql, n: number): Promise<void> {
  await sql`INSERT INTO nodes (name, address, vcpus, memory_mib, disk_gib, labels, cpu_ratio, memory_ratio, disk_ratio,
      reserved_vcpus, reserved_memory_mib, reserved_disk_gib)
    SELECT 'host-' || lpad(g::text, 5, '0'), '127.0.0.1:1', 64, 262144, 1000, '{}', 1, 1, 1, 0, 0, 0 FROM generate_series(1, ${n}) g`;
  await sql`INSERT INTO node_heartbeats (name, unheard_ms) SELECT name, 0 FROM nodes`;
  const names = (await sql<{ name: string }[]>`SELECT name FROM nodes ORDER BY name`).map((r) => r.name);
  // Beaten through the heartbeat record, as the replicas write them (a beat's timeout recorded too).
  for (let s = 1; s <= 2; s++) for (let i = 0; i < n; i += 500) await recordHeartbeats(sql, names.slice(i, i + 500).map((name) => ({ name, bootId: "b", seq: s, timeoutMs: 10_000 })));
}

const rows: (string | number)[][] = [];
for (const n of SIZES) {
  const db = await openTestDatabase({ max: 1 });
  try {
    await fleet(db.sql, n);
    let text = "";
    let params: unknown[] = [];
    const spy = connect(db.url, { max: 1, debug: (q, p) => q.includes("silent AS") && ((text = q), (params = p)) });
    await markSilentNodesDown(spy, 10_000, []);
    const walls: number[] = [];
    const cpus: number[] = [];
    for (let k = 0; k < CALLS; k++) {
      const c0 = await backendsCpuNs(spy);
      const t0 = performance.now();
      await markSilentNodesDown(spy, 10_000, []);
      walls.push(performance.now() - t0);
      cpus.push(backendsMsSince(c0, await backendsCpuNs(spy)));
    }
    const [plan] = await spy.unsafe<{ "QUERY PLAN": [{ JIT?: { Timing?: { Total?: number } } }] }[]>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, params as never[]);
    const jit = plan!["QUERY PLAN"][0].JIT;
    rows.push([n, median(walls).toFixed(2), median(cpus).toFixed(2), jit ? `yes, ${(jit.Timing?.Total ?? 0).toFixed(1)} ms` : "no"]);
    await spy.end();
  } finally {
    await db.close();
  }
}
console.log(`node ${process.version}; median of ${CALLS} calls, every node heard in time`);
console.log(table(["nodes", "wall ms per call", "Postgres CPU ms per call", "JIT"], rows));
