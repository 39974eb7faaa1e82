import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, markSilentNodesDown } from "./index.js";
import { openTestDatabase, type TestDatabase } from "./testing.js";

const NODES = 5000;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Actual Loops": number;
  Plans?: PlanNode[];
}

/** Every plan node, flattened. */
const all = (n: PlanNode): PlanNode[] => [n, ...(n.Plans ?? []).flatMap(all)];

// The liveness tick runs this statement once a second on every replica. Planned with
// liveness_window's default estimate (1,540 rows for its one row), it looked up every node's
// heartbeat and aggregated beat_bounds once per node, and its cost made Postgres JIT-compile it
// on every call: 72 ms a tick at 5,000 nodes, 44 of it the JIT (pg_stat_statements, api.ts).
describe("markSilentNodesDown at 5,000 nodes: one pass over the heartbeats, no JIT", () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await openTestDatabase();
    await db.sql`INSERT INTO nodes (name, address, vcpus, memory_mib, disk_gib, labels, cpu_ratio, memory_ratio, disk_ratio,
        reserved_vcpus, reserved_memory_mib, reserved_disk_gib)
      SELECT 'n' || g, '127.0.0.1:1', 64, 65536, 100, '{}', 1, 1, 1, 0, 0, 0 FROM generate_series(1, ${NODES}) g`;
    await db.sql`INSERT INTO node_heartbeats (name, unheard_ms) SELECT name, 0 FROM nodes`;
    await db.sql`ANALYZE nodes`;
    await db.sql`ANALYZE node_heartbeats`;
  }, 60_000);
  afterAll(async () => {
    await db?.close();
  });

  it("reads beat_bounds and node_heartbeats once, and is not JIT-compiled (the server's default settings, as the scheduler's sessions get them)", async () => {
    let text = "";
    let params: unknown[] = [];
    const spy = connect(db.url, { max: 1, debug: (q, p) => q.includes("silent AS") && ((text = q), (params = p)) });
    try {
      expect(await markSilentNodesDown(spy, 10_000, ["n1"])).toEqual([]);
      const [row] = await spy.unsafe<{ "QUERY PLAN": [{ Plan: PlanNode; JIT?: unknown }] }[]>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, params as never[]);
      const plan = row!["QUERY PLAN"][0];
      expect(plan.JIT).toBeUndefined();
      const reads = (table: string) => all(plan.Plan).filter((n) => n["Relation Name"] === table).map((n) => n["Actual Loops"]);
      for (const loops of reads("beat_bounds")) expect(loops).toBeLessThanOrEqual(1);
      expect(reads("node_heartbeats").filter((loops) => loops > 1)).toEqual([]);
    } finally {
      await spy.end();
    }
  });

  it("still marks DOWN the nodes silent past their timeout, and only those", async () => {
    await db.sql`UPDATE node_heartbeats SET at = now() - interval '1 hour' WHERE name IN ('n7', 'n8', 'n9')`;
    const down = await markSilentNodesDown(db.sql, 10_000, ["n9"]);
    expect(down.map((n) => n.name).sort()).toEqual(["n7", "n8"]);
  });
});
