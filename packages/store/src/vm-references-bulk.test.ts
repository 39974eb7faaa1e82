import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openTestDatabase, type TestDatabase } from "./testing.js";

// The check that a statement's new VM rows name existing nodes (drover_vms_refs_inserted,
// migration 024) is a plpgsql query, planned once per session and then reused. Planned for a
// one-VM insert, it joined a bulk's distinct nodes against all its rows once per node: a bulk of
// 5,000 VMs on 5,000 nodes ran for minutes (the benchmark's warm-up at 5,000 hosts, issue 13).
describe("a bulk insert of VMs on many nodes after small inserts on the same session", () => {
  const NODES = 2500;
  let db: TestDatabase;

  beforeAll(async () => {
    // One session: the trigger's plan is that session's.
    db = await openTestDatabase({ max: 1 });
    const names = Array.from({ length: NODES }, (_, i) => `n${String(i).padStart(5, "0")}`);
    await db.sql`
      INSERT INTO nodes (name, address, vcpus, memory_mib, disk_gib, cpu_ratio, memory_ratio, disk_ratio)
      SELECT name, '127.0.0.1:1', 64, 65536, 100, 1, 1, 1 FROM unnest(${names}::text[]) AS t(name)`;
  });
  afterAll(async () => {
    await db?.close();
  });

  const insertOnePerNode = (limit: number) => db.sql`
    INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, state)
    SELECT gen_random_uuid(), 'r', '{}', '{}', 1, 1, 0, name, 'PENDING' FROM (SELECT name FROM nodes ORDER BY name LIMIT ${limit}) n`;

  it("checks the nodes in time linear in them, whatever size the session's first insert was", async () => {
    for (let i = 0; i < 3; i++) await insertOnePerNode(1);
    const t0 = performance.now();
    await insertOnePerNode(NODES);
    const ms = performance.now() - t0;
    // Linear: ~50 ms here, on a loaded machine well under a second. Quadratic (the plan for one
    // row reused): 2,500 × 1,250 index probes, 5–20 s.
    expect(ms).toBeLessThan(2500);
    const [n] = await db.sql<{ n: number }[]>`SELECT count(DISTINCT node)::int AS n FROM vms`;
    expect(n!.n).toBe(NODES);
  }, 120_000);
});
