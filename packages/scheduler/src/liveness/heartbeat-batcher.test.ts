import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertNode, type Sql } from "@drover/store";
import { EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "@drover/store/testing";
import { HeartbeatBatcher, type BeatSlot } from "./heartbeat-batcher.js";
import type { RecordedBeat } from "@drover/store";

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

  it("a stream's slot: a beat while queued takes the earlier one's place, one after the batch went out is recorded in the next with its own payload", async () => {
    const batcher = new HeartbeatBatcher(sql, 20);
    const [before] = await sql<{ seq: string }[]>`SELECT seq::text FROM node_heartbeats WHERE name = 'a'`;
    const heard: { payload: string; recorded: RecordedBeat | null }[] = [];
    let nextBatch = () => {};
    const slot: BeatSlot<string> = {
      name: "a",
      bootId: "",
      seq: 0,
      timeoutMs: 0,
      arrived: 0,
      payload: "",
      queued: false,
      recorded: (recorded, payload) => {
        heard.push({ payload, recorded });
        nextBatch();
      },
      failed: (err) => {
        throw err;
      },
    };
    const beat = (seq: number) => {
      Object.assign(slot, { seq: Number(before!.seq) + seq, arrived: performance.now(), payload: `beat ${seq}` });
      batcher.enqueue(slot);
    };
    statements.length = 0;
    beat(1);
    beat(2); // still queued: replaces beat 1
    expect(batcher.pendingNodes()).toEqual(["a"]);
    await new Promise<void>((resolve) => {
      nextBatch = () => {
        nextBatch = resolve;
        beat(3);
      };
    });
    expect(heard.map((h) => h.payload)).toEqual(["beat 2", "beat 3"]);
    expect(heard.map((h) => h.recorded?.fresh)).toEqual([true, true]);
    expect(statements.filter((q) => q.includes("node_heartbeats"))).toHaveLength(2);
    const [after] = await sql<{ seq: string }[]>`SELECT seq::text FROM node_heartbeats WHERE name = 'a'`;
    expect(Number(after!.seq)).toBe(Number(before!.seq) + 3);
    expect(batcher.pendingNodes()).toEqual([]);
  });

  it("a node stays pending while its beat's batch is on its way to the database", async () => {
    const batcher = new HeartbeatBatcher(sql, 0);
    let recording: Promise<unknown> | undefined;
    // The node's heartbeat row locked: the batch's statement waits for it.
    await sql.begin(async (tx) => {
      await tx`SELECT 1 FROM node_heartbeats WHERE name = 'b' FOR UPDATE`;
      statements.length = 0;
      recording = batcher.record({ name: "b", bootId: "", seq: 1 });
      while (!statements.some((q) => q.includes("node_heartbeats"))) await new Promise((r) => setTimeout(r, 5));
      expect(batcher.pendingNodes()).toEqual(["b"]);
    });
    await recording;
    expect(batcher.pendingNodes()).toEqual([]);
  });
});
