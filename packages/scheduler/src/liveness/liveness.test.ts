import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getNode, markSilentNodesDown, upsertNode, type Sql } from "@drover/store";
import { EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "@drover/store/testing";
import { HeartbeatBatcher } from "./heartbeat-batcher.js";
import { livenessGaps, livenessTick } from "./liveness.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("livenessTick judges silence only while the scheduler could hear (real Postgres)", () => {
  const TIMEOUT_MS = 1000;
  let db: TestDatabase;
  let sql: Sql;
  const logged: string[] = [];
  const tick = () => livenessTick(sql, TIMEOUT_MS, (m) => logged.push(m));
  const stateOf = async (name: string) => (await getNode(sql, name))!.state;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    for (const name of ["a", "b"]) {
      await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    }
  });
  afterAll(async () => {
    await db?.close();
  });

  it("after an outage (no tick for longer than the gap) marks no node DOWN, however old its last beat", async () => {
    // As after 10 s without the database: the last beats and the last tick are all 10 s old.
    await sql`UPDATE node_heartbeats SET at = now() - interval '10 seconds'`;
    await sql`UPDATE liveness_window SET started_at = now() - interval '1 hour', last_tick_at = now() - interval '10 seconds'`;
    await tick();
    expect([await stateOf("a"), await stateOf("b")]).toEqual(["READY", "READY"]);
    const [w] = await sql<{ fresh: boolean }[]>`SELECT started_at > now() - interval '1 second' AS fresh FROM liveness_window`;
    expect(w!.fresh).toBe(true);
  });

  it("marks DOWN, a timeout into the fresh window, the node that never beat in it, and not the one that did", async () => {
    const until = Date.now() + TIMEOUT_MS + 300;
    while (Date.now() < until) {
      await sql`UPDATE node_heartbeats SET at = now(), unheard_ms = (SELECT unheard_ms FROM liveness_window) WHERE name = 'a'`;
      await tick();
      await sleep(100);
    }
    expect(await stateOf("a")).toBe("READY");
    expect(await stateOf("b")).toBe("DOWN");
    expect(logged.some((m) => m.startsWith(`nodes DOWN (not heard for ${TIMEOUT_MS} ms`) && m.includes(": b;"))).toBe(true);
  });

  it("treats a pause shorter than a tick's allowance as watching: a silent node still goes DOWN on time", async () => {
    await sql`UPDATE nodes SET state = 'READY', state_before_down = NULL WHERE name = 'b'`;
    await sql`UPDATE node_heartbeats SET at = now() - interval '5 seconds', unheard_ms = (SELECT unheard_ms FROM liveness_window) WHERE name = 'b'`;
    await sql`UPDATE liveness_window SET started_at = now() - interval '1 hour', last_tick_at = now() - make_interval(secs => ${livenessGaps(TIMEOUT_MS).allowanceMs / 2000})`;
    await tick();
    expect(await stateOf("b")).toBe("DOWN");
  });

  it("leaves alone a node whose beat this replica holds unrecorded", async () => {
    await sql`UPDATE nodes SET state = 'READY', state_before_down = NULL WHERE name = 'b'`;
    await sql`UPDATE node_heartbeats SET at = now() - interval '5 seconds', unheard_ms = (SELECT unheard_ms FROM liveness_window) WHERE name = 'b'`;
    await livenessTick(sql, TIMEOUT_MS, () => {}, () => ["b"]);
    expect(await stateOf("b")).toBe("READY");
    await tick();
    expect(await stateOf("b")).toBe("DOWN");
  });
});

describe("a pause too short to restart the window still counts as unheard (real Postgres)", () => {
  // Ticks every 1 s: a tick up to 2 s late is watching, a pause of 3 s or more restarts the window.
  const TIMEOUT_MS = 4000;
  let db: TestDatabase;
  let sql: Sql;
  const stateOf = async () => (await getNode(sql, "c"))!.state;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    await upsertNode(sql, { name: "c", address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
  });
  afterAll(async () => {
    await db?.close();
  });

  it("takes the pause beyond the allowance from the node's silence, then marks it DOWN once it was heard silent for the timeout", async () => {
    const { allowanceMs, restartAfterMs } = livenessGaps(TIMEOUT_MS);
    expect([allowanceMs, restartAfterMs]).toEqual([2000, 3000]);
    // Its last beat 4.5 s ago; no tick for the last 2.9 s: 0.9 s of that unheard, so 3.6 s heard.
    await sql`UPDATE node_heartbeats SET at = now() - interval '4.5 seconds', unheard_ms = 0`;
    await sql`UPDATE liveness_window SET started_at = now() - interval '1 hour', last_tick_at = now() - interval '2.9 seconds', unheard_ms = 0`;
    await livenessTick(sql, TIMEOUT_MS, () => {});
    expect(await stateOf()).toBe("READY");
    const [w] = await sql<{ unheard: number; restarted: boolean }[]>`
      SELECT unheard_ms AS unheard, started_at > now() - interval '1 minute' AS restarted FROM liveness_window`;
    expect(w!.restarted).toBe(false);
    expect(w!.unheard).toBeGreaterThan(800);
    expect(w!.unheard).toBeLessThan(1500);
    // Ticking on time from now: DOWN once the heard silence passes 4 s, within about a second.
    const deadline = Date.now() + 10_000;
    while ((await stateOf()) !== "DOWN" && Date.now() < deadline) {
      await livenessTick(sql, TIMEOUT_MS, () => {});
      await sleep(200);
    }
    expect(await stateOf()).toBe("DOWN");
  });
});

describe("heartbeats count from when they arrived (real Postgres)", () => {
  let db: TestDatabase;
  let sql: Sql;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    await upsertNode(sql, { name: "d", address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
  });
  afterAll(async () => {
    await db?.close();
  });

  it("records a beat that waited 3 s in the replica as of its arrival, with the unheard time so far", async () => {
    await sql`UPDATE node_heartbeats SET at = now() - interval '1 hour'`;
    await sql`UPDATE liveness_window SET unheard_ms = 1234`;
    const batcher = new HeartbeatBatcher(sql, 0);
    const recording = batcher.record({ name: "d", bootId: "", seq: 1 }, performance.now() - 3000);
    expect(batcher.pendingNodes()).toEqual(["d"]);
    await recording;
    expect(batcher.pendingNodes()).toEqual([]);
    const [h] = await sql<{ age: number; unheard: number }[]>`
      SELECT extract(epoch FROM now() - at)::float8 AS age, unheard_ms AS unheard FROM node_heartbeats WHERE name = 'd'`;
    expect(h!.age).toBeGreaterThan(2.5);
    expect(h!.age).toBeLessThan(10);
    expect(h!.unheard).toBe(1234);
  });
});

describe("markSilentNodesDown locks node rows in name order (real Postgres)", () => {
  let db: TestDatabase;
  let sql: Sql;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    // "b" first, so a plan that follows the heap meets it before "a".
    for (const name of ["b", "a"]) {
      await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    }
  });
  afterAll(async () => {
    await db?.close();
  });

  it("does not deadlock with a claim that locks a, then b", async () => {
    await sql`UPDATE node_heartbeats SET at = now() - interval '1 minute', unheard_ms = 0`;
    await sql`UPDATE liveness_window SET started_at = '-infinity', last_tick_at = now(), unheard_ms = 0`;
    // The claim side, as claims.ts locks: a first; b once markSilentNodesDown waits (or holds b).
    const claim = sql.begin(async (tx) => {
      await tx`SELECT name FROM nodes WHERE name = 'a' FOR NO KEY UPDATE`;
      await sleep(500);
      await tx`SELECT name FROM nodes WHERE name = 'b' FOR NO KEY UPDATE`;
    });
    await sleep(100);
    const down = markSilentNodesDown(sql, 1000);
    const [claimed, marked] = await Promise.allSettled([claim, down]);
    expect(claimed.status, String((claimed as PromiseRejectedResult).reason)).toBe("fulfilled");
    expect(marked.status, String((marked as PromiseRejectedResult).reason)).toBe("fulfilled");
    expect(((marked as PromiseFulfilledResult<{ name: string }[]>).value).map((n) => n.name).sort()).toEqual(["a", "b"]);
  });
});

describe("each node is judged by the timeout its last beat was recorded with (beat-rate cap; real Postgres)", () => {
  const TIMEOUT_MS = 1000;
  let db: TestDatabase;
  let sql: Sql;
  const stateOf = async (name: string) => (await getNode(sql, name))!.state;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    for (const name of ["slow", "plain"]) {
      await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    }
  });
  afterAll(async () => {
    await db?.close();
  });

  it("keeps a node whose beat said a longer interval past the configured timeout, a late beat does not shorten it, and it is DOWN at its own", async () => {
    // Ticks as a running replica does (a longer pause would count as unheard, or restart the window).
    const tickUntil = async (ms: number) => {
      for (const end = t0 + ms; Date.now() < end; await sleep(100)) await livenessTick(sql, TIMEOUT_MS, () => {});
    };
    await livenessTick(sql, TIMEOUT_MS, () => {});
    const batcher = new HeartbeatBatcher(sql, 0);
    const t0 = Date.now();
    await batcher.record({ name: "slow", bootId: "000000000001-b", seq: 2, timeoutMs: 3000 });
    await batcher.record({ name: "plain", bootId: "000000000001-b", seq: 2 });
    // A beat from before (lower seq) arriving late, recorded with the configured timeout.
    await batcher.record({ name: "slow", bootId: "000000000001-b", seq: 1, timeoutMs: 0 });
    await tickUntil(1600);
    expect([await stateOf("slow"), await stateOf("plain")]).toEqual(["READY", "DOWN"]);
    await tickUntil(2700);
    expect(await stateOf("slow")).toBe("READY");
    await tickUntil(3400);
    expect(await stateOf("slow")).toBe("DOWN");
  });
});
