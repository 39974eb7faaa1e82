// The node cache's reads of changed rows (readNodeCapacities by transaction id) against a read of
// every node: after any interleaving of claims, releases, state changes, registrations and
// deletions from two connections, some of them in transactions left open across the cache's reads
// and committed (or rolled back) later, a fresh view equals a full read.
import fc from "fast-check";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { NodeSnapshot } from "@drover/placement";
import { ClaimConflictError, claimResources, connect, readNodeCapacities, setNodeState, upsertNode, type Db, type Sql } from "@drover/store";
import { EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "@drover/store/testing";
import { NodeCache } from "./node-cache.js";

const HOUR = 3_600_000;
const NAMES = ["n0", "n1", "n2", "n3", "n4"];
const ROLLBACK = new Error("rollback");

type Write =
  | { kind: "claim"; node: string; mib: number }
  | { kind: "release"; node: string }
  | { kind: "state"; node: string; state: "READY" | "CORDONED" | "DRAINING" | "DOWN" }
  | { kind: "register"; node: string; mib: number; zone: string }
  | { kind: "delete"; node: string };

type Step =
  | { kind: "write"; conn: 0 | 1; write: Write }
  | { kind: "open"; conn: 0 | 1; write: Write }
  | { kind: "end"; which: number; commit: boolean }
  | { kind: "reserve"; node: string; undo: boolean }
  | { kind: "read" };

const node = fc.constantFrom(...NAMES);
const write: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ kind: fc.constant("claim" as const), node, mib: fc.integer({ min: 1, max: 3000 }) }),
  fc.record({ kind: fc.constant("release" as const), node }),
  fc.record({ kind: fc.constant("state" as const), node, state: fc.constantFrom("READY" as const, "CORDONED" as const, "DRAINING" as const, "DOWN" as const) }),
  fc.record({ kind: fc.constant("register" as const), node, mib: fc.constantFrom(4096, 8192), zone: fc.constantFrom("a", "b") }),
  fc.record({ kind: fc.constant("delete" as const), node }),
);
const conn = fc.constantFrom(0 as const, 1 as const);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("write" as const), conn, write }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("open" as const), conn, write }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("end" as const), which: fc.nat(3), commit: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reserve" as const), node, undo: fc.boolean() }) },
  { weight: 3, arbitrary: fc.constant({ kind: "read" as const }) },
);

async function run(db: Db, w: Write): Promise<void> {
  switch (w.kind) {
    case "claim":
      await claimResources(db, [{ node: w.node, vcpus: 1, memoryMib: w.mib, diskGib: 1 }]).catch((err: unknown) => {
        if (!(err instanceof ClaimConflictError)) throw err;
      });
      return;
    case "release":
      await db`UPDATE nodes SET alloc_vcpus = alloc_vcpus - 1, alloc_memory_mib = alloc_memory_mib / 2, alloc_disk_gib = alloc_disk_gib - 1
        WHERE name = ${w.node} AND alloc_vcpus > 0`;
      return;
    case "state":
      if (w.state === "DOWN") await db`UPDATE nodes SET state = 'DOWN' WHERE name = ${w.node}`;
      else await setNodeState(db, w.node, w.state);
      return;
    case "register":
      await upsertNode(db, { name: w.node, address: "127.0.0.1:1", vcpus: 8, memoryMib: w.mib, diskGib: 100, labels: { zone: w.zone } }, EXACT_CAPACITY);
      return;
    case "delete":
      await db`DELETE FROM nodes WHERE name = ${w.node}`;
      return;
  }
}

/** A transaction that wrote and stays open until commit() or rollback(). */
interface OpenTransaction {
  node: string;
  end(commit: boolean): Promise<void>;
}

async function open(sql: Sql, w: Write): Promise<OpenTransaction> {
  let decide!: (commit: boolean) => void;
  const decided = new Promise<boolean>((resolve) => (decide = resolve));
  let wrote!: () => void;
  const written = new Promise<void>((resolve) => (wrote = resolve));
  const done = sql
    .begin(async (tx) => {
      await run(tx, w);
      wrote();
      if (!(await decided)) throw ROLLBACK;
    })
    .then(
      () => {},
      (err: unknown) => {
        if (err !== ROLLBACK) throw err;
      },
    );
  await Promise.race([written, done]);
  return {
    node: w.node,
    async end(commit) {
      decide(commit);
      await done;
    },
  };
}

/** A full read, as the cache's snapshots. */
async function everyNode(sql: Sql): Promise<NodeSnapshot[]> {
  return (await readNodeCapacities(sql, null)).nodes.map((n) => ({ ...n, groups: {} }));
}

describe("NodeCache's reads of changed rows equal a read of every node", () => {
  let db: TestDatabase;
  let other: Sql;

  beforeAll(async () => {
    db = await openTestDatabase();
    other = connect(db.url);
  });
  afterAll(async () => {
    await other?.end();
    await db?.close();
  });
  beforeEach(async () => {
    await db.sql`TRUNCATE nodes, vms CASCADE`;
  });

  /** Runs the steps on a cache that never reads every node on its own; checks the view after each read. */
  async function check(steps: Step[]): Promise<void> {
    const sql = db.sql;
    const conns = [sql, other];
    await sql`TRUNCATE nodes, vms CASCADE`;
    for (const name of NAMES.slice(0, 3)) await run(sql, { kind: "register", node: name, mib: 8192, zone: "a" });
    const cache = new NodeCache(sql, HOUR, Infinity);
    await cache.get();
    const opened: OpenTransaction[] = [];
    // A write to a row an open transaction holds would wait for it: this sequential test skips it.
    const held = (name: string) => opened.some((t) => t.node === name);
    try {
      for (const s of steps) {
        if (s.kind === "write" && !held(s.write.node)) await run(conns[s.conn]!, s.write);
        if (s.kind === "open" && !held(s.write.node) && opened.length < 3) opened.push(await open(conns[s.conn]!, s.write));
        if (s.kind === "end" && opened.length > 0) await opened.splice(s.which % opened.length, 1)[0]!.end(s.commit);
        if (s.kind === "reserve") {
          const r = cache.reserve([{ node: s.node, vcpus: 1, memoryMib: 100, diskGib: 0 }]);
          if (s.undo) r.undo();
        }
        if (s.kind === "read") expect((await cache.get(true)).snapshots).toEqual(await everyNode(sql));
      }
      while (opened.length > 0) await opened.pop()!.end(true);
      expect((await cache.get(true)).snapshots).toEqual(await everyNode(sql));
    } finally {
      while (opened.length > 0) await opened.pop()!.end(false);
    }
  }

  it("after random interleavings from two connections, with transactions open across reads", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), (steps) => check(steps)),
      { numRuns: 60 },
    );
  }, 120_000);

  it("a transaction that began before a read and commits after a later one was read (the late commit)", async () => {
    await check([
      { kind: "open", conn: 1, write: { kind: "claim", node: "n0", mib: 1000 } }, // takes its id first
      { kind: "read" }, // cannot see it
      { kind: "write", conn: 0, write: { kind: "claim", node: "n1", mib: 500 } }, // a higher id, committed
      { kind: "read" }, // sees that one
      { kind: "end", which: 0, commit: true }, // the lower id commits last
      { kind: "read" },
    ]);
  });

  it("a reservation whose claim never commits is gone after the next read", async () => {
    await check([{ kind: "reserve", node: "n2", undo: false }, { kind: "read" }]);
  });

  it("deleted and new nodes (a full read: the list is by name)", async () => {
    await check([
      { kind: "write", conn: 1, write: { kind: "delete", node: "n1" } },
      { kind: "read" },
      { kind: "write", conn: 1, write: { kind: "delete", node: "n2" } },
      { kind: "write", conn: 0, write: { kind: "register", node: "n4", mib: 4096, zone: "b" } },
      { kind: "read" },
    ]);
  });
});
