import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertNode, type Sql } from "@drover/store";
import { EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "@drover/store/testing";
import { HeartbeatBatcher } from "./heartbeat-batcher.js";

// Streamed beats may wait long for company (nobody waits on their answer); a unary beat may not.
describe("HeartbeatBatcher lingers", () => {
  let db: TestDatabase;
  let sql: Sql;
  const statements: string[] = [];

  beforeAll(async () => {
    db = await openTestDatabase({ debug: (q) => statements.push(q) });
    sql = db.sql;
    for (const name of ["a", "b"]) await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
  });
  afterAll(async () => {
    await db?.close();
  });

  it("sends a batch when its most hurried beat is due: a long-lingering beat goes with a short one, in one statement", async () => {
    const batcher = new HeartbeatBatcher(sql, 20);
    statements.length = 0;
    const settled: string[] = [];
    // An hour: without the second beat this one would not be recorded within the test.
    const slow = batcher.record({ name: "a", bootId: "", seq: 1 }, performance.now(), 3_600_000).then((r) => (settled.push("a"), r));
    expect(batcher.pendingNodes()).toEqual(["a"]);
    const quick = batcher.record({ name: "b", bootId: "", seq: 1 }).then((r) => (settled.push("b"), r));
    const [ra, rb] = await Promise.all([slow, quick]);
    expect(ra).toMatchObject({ state: "READY", fresh: true });
    expect(rb).toMatchObject({ state: "READY", fresh: true });
    expect(settled.sort()).toEqual(["a", "b"]);
    expect(statements.filter((q) => q.includes("node_heartbeats"))).toHaveLength(1);
    expect(batcher.pendingNodes()).toEqual([]);
  });

  it("revives the batch's DOWN nodes in one statement, each to its state before, with its event", async () => {
    await sql`UPDATE nodes SET state = 'DOWN', state_before_down = CASE name WHEN 'b' THEN 'CORDONED' END, reason = ''`;
    const [mark] = await sql<{ id: number }[]>`SELECT coalesce(max(id), 0)::int AS id FROM outbox`;
    const batcher = new HeartbeatBatcher(sql, 20);
    statements.length = 0;
    const [ra, rb] = await Promise.all([batcher.record({ name: "a", bootId: "", seq: 3 }), batcher.record({ name: "b", bootId: "", seq: 3 })]);
    expect(ra).toMatchObject({ state: "READY", fresh: true, revived: true });
    expect(rb).toMatchObject({ state: "CORDONED", fresh: true, revived: true });
    // One record and one revive: a fleet coming back at once is not one statement per node.
    expect(statements.filter((q) => /UPDATE nodes/.test(q))).toHaveLength(1);
    const events = await sql<{ subject: string }[]>`SELECT subject FROM outbox WHERE id > ${mark!.id} ORDER BY id`;
    expect(events.map((e) => e.subject).sort()).toEqual(["drover.node.cordoned", "drover.node.ready"].sort());
    const rows = await sql<{ name: string; state: string }[]>`SELECT name, state FROM nodes ORDER BY name`;
    expect(rows).toEqual([
      { name: "a", state: "READY" },
      { name: "b", state: "CORDONED" },
    ]);
  });

  it("a later beat with a longer linger does not put off a batch already due sooner", async () => {
    const batcher = new HeartbeatBatcher(sql, 20);
    const first = batcher.record({ name: "a", bootId: "", seq: 4 });
    const second = batcher.record({ name: "b", bootId: "", seq: 4 }, performance.now(), 3_600_000);
    expect(await Promise.all([first, second])).toMatchObject([{ fresh: true }, { fresh: true }]);
  });
});
