import { setTimeout as sleep } from "node:timers/promises";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Sql } from "./db.js";
import { asStoreError, isConnectionFailure, StoreUnavailableError, TransactionAbortedError } from "./errors.js";
import { startEmbeddedPostgres } from "./embedded.js";
import { migrate } from "./migrations.js";
import { sequenceEvents } from "./outbox.js";
import { idleInTransaction, openTestDatabase, outboxEvents, type TestDatabase } from "./testing.js";
import { beginStatement, inTransaction, transaction } from "./transaction.js";
import { foldVmChanges } from "./vm-changes.js";

// Real Postgres. max_pipeline 0 makes postgres.js skip sql.begin()'s reservation hook on every
// BEGIN (connection.js execute(): `sent.length < max_pipeline` is false before onexecute runs),
// the path it takes at the pipeline boundary or under backpressure in production.
let db: TestDatabase;
let admin: Sql;

beforeAll(async () => {
  db = await openTestDatabase({ max: 1 });
  admin = db.sql;
  await admin`CREATE TABLE tx_probe (k text PRIMARY KEY, xid bigint NOT NULL DEFAULT txid_current())`;
});
afterAll(() => db.close());

/** A pool of `max` on the suite's database; ended by the caller. */
const pool = (max: number, maxPipeline?: number) => connect(db.url, { max, ...(maxPipeline !== undefined ? { maxPipeline } : {}) });

async function rows(prefix: string): Promise<Map<string, number>> {
  const found = await admin<{ k: string; xid: number }[]>`SELECT k, xid FROM tx_probe WHERE starts_with(k, ${prefix})`;
  return new Map(found.map((r) => [r.k, r.xid]));
}

describe("sql.begin at max_pipeline 0 (the driver's defect this module avoids)", () => {
  it("fails UNSAFE_TRANSACTION and leaves the pooled session idle in transaction", async () => {
    const sql = pool(4, 0);
    try {
      await expect(sql.begin((tx) => tx`SELECT 1`)).rejects.toMatchObject({ code: "UNSAFE_TRANSACTION" });
      expect(await idleInTransaction(admin)).toHaveLength(1);
    } finally {
      await sql.end();
    }
  });
});

describe("transaction()", () => {
  it("commits at max_pipeline 0, with the options given, and leaves no open transaction", async () => {
    const sql = pool(4, 0);
    try {
      const seen = await transaction(sql, { isolation: "repeatable read", readOnly: true }, async (tx) => {
        const [iso] = await tx<{ v: string }[]>`SELECT current_setting('transaction_isolation') AS v`;
        const [ro] = await tx<{ v: string }[]>`SELECT current_setting('transaction_read_only') AS v`;
        return [iso!.v, ro!.v];
      });
      expect(seen).toEqual(["repeatable read", "on"]);
      await transaction(sql, (tx) => tx`INSERT INTO tx_probe (k) VALUES ('commit-1')`);
      expect([...(await rows("commit-1")).keys()]).toEqual(["commit-1"]);
      // An array of queries is awaited, as sql.begin does.
      const many = await transaction(sql, (tx) => [tx<{ a: number }[]>`SELECT 1 AS a`, tx<{ a: number }[]>`SELECT 2 AS a`]);
      expect(many.map((r) => r[0]!.a)).toEqual([1, 2]);
      // A query's Result comes back as it is, its count with it.
      const updated = await transaction(sql, (tx) => tx`UPDATE tx_probe SET k = k WHERE k = 'commit-1'`);
      expect(updated.count).toBe(1);
      // Inside, the handle has no begin (nor release: fn cannot hand the connection back mid-way).
      await transaction(sql, (tx) => {
        expect("begin" in tx).toBe(false);
        expect((tx as unknown as { begin?: unknown }).begin).toBeUndefined();
      });
      expect(await idleInTransaction(admin)).toEqual([]);
    } finally {
      await sql.end();
    }
  });

  it("tells a transaction's handle from a pool (inTransaction)", async () => {
    const sql = pool(2);
    try {
      expect(inTransaction(sql)).toBe(false);
      expect(await transaction(sql, (tx) => inTransaction(tx))).toBe(true);
      // Nested: the handle of one transaction() stays marked while others come and go.
      expect(await transaction(sql, async (tx) => [await transaction(sql, (other) => inTransaction(other)), inTransaction(tx)])).toEqual([true, true]);
      // sql.begin's handle, which tests set up data with, is a transaction too.
      expect(await sql.begin((tx) => inTransaction(tx))).toBe(true);
      // A reserved connection outside transaction() is not.
      const reserved = await sql.reserve();
      const seen = inTransaction(reserved);
      reserved.release();
      expect(seen).toBe(false);
    } finally {
      await sql.end();
    }
  });

  it("rolls back when the callback throws, and when it swallowed a failed statement", async () => {
    const sql = pool(2);
    try {
      const thrown = new Error("no");
      await expect(
        transaction(sql, async (tx) => {
          await tx`INSERT INTO tx_probe (k) VALUES ('rollback-1')`;
          throw thrown;
        }),
      ).rejects.toBe(thrown);
      // The duplicate key aborts the transaction; COMMIT of it is a ROLLBACK, and says so, with the
      // failed statement's error as cause.
      const aborted: unknown = await transaction(sql, async (tx) => {
        await tx`INSERT INTO tx_probe (k) VALUES ('rollback-2')`;
        await tx`INSERT INTO tx_probe (k) VALUES ('rollback-2')`.catch(() => {});
      }).catch((e: unknown) => e);
      expect(aborted).toBeInstanceOf(TransactionAbortedError);
      expect((aborted as Error).cause).toMatchObject({ code: "23505" });
      expect(await rows("rollback-")).toEqual(new Map());
      expect(await idleInTransaction(admin)).toEqual([]);
    } finally {
      await sql.end();
    }
  });

  it("builds BEGIN from fixed words only", () => {
    expect(beginStatement()).toBe("BEGIN");
    expect(beginStatement({ isolation: "serializable", readOnly: false })).toBe("BEGIN ISOLATION LEVEL SERIALIZABLE");
    expect(() => beginStatement({ isolation: "read committed; DROP TABLE vms" as "serializable" })).toThrow(TypeError);
  });

  it("runs the store's transactions at max_pipeline 0 alongside other queries, leaving none open", async () => {
    const sql = pool(3, 0);
    try {
      const plain = Array.from({ length: 30 }, () => sql`SELECT count(*) FROM outbox`);
      const done = await Promise.all([migrate(sql), sequenceEvents(sql), foldVmChanges(sql), outboxEvents(sql), ...plain]);
      expect(done.slice(0, 4)).toEqual([[], 0, 0, []]);
      expect(await idleInTransaction(admin)).toEqual([]);
    } finally {
      await sql.end();
    }
  });

  // Property: whatever mix of transactions (committing or failing) and plain statements runs at
  // once on a small pool, no statement runs in another caller's transaction: every plain row is
  // there with a transaction id of its own, each committed transaction's two rows share one, and no
  // failed transaction's row is left.
  for (const maxPipeline of [0, 100]) {
    it(`keeps concurrent callers apart on a pool of 3 (max_pipeline ${maxPipeline})`, async () => {
      const sql = pool(3, maxPipeline);
      let run = 0;
      try {
        await fc.assert(
          fc.asyncProperty(fc.array(fc.constantFrom("commit", "fail", "plain"), { minLength: 1, maxLength: 60 }), async (ops) => {
            const p = `p${maxPipeline}-${run++}-`;
            const results = await Promise.allSettled(
              ops.map((op, i) =>
                op === "plain"
                  ? sql`INSERT INTO tx_probe (k) VALUES (${`${p}plain-${i}`})`
                  : transaction(sql, async (tx) => {
                      await tx`INSERT INTO tx_probe (k) VALUES (${`${p}${op}-${i}-a`})`;
                      await tx`INSERT INTO tx_probe (k) VALUES (${`${p}${op}-${i}-b`})`;
                      if (op === "fail") throw new Error("rolled back on purpose");
                    }),
              ),
            );
            results.forEach((r, i) => expect(r.status === "rejected" ? (r.reason as Error).message : "ok").toBe(ops[i] === "fail" ? "rolled back on purpose" : "ok"));
            const found = await rows(p);
            const xids = new Set<number>();
            ops.forEach((op, i) => {
              if (op === "fail") return expect(found.has(`${p}fail-${i}-a`) || found.has(`${p}fail-${i}-b`)).toBe(false);
              const [a, b] = op === "plain" ? [`${p}plain-${i}`, `${p}plain-${i}`] : [`${p}commit-${i}-a`, `${p}commit-${i}-b`];
              expect(found.get(a)).toBeDefined();
              expect(found.get(b)).toBe(found.get(a));
              expect(xids.has(found.get(a)!)).toBe(false);
              xids.add(found.get(a)!);
            });
            expect(found.size).toBe(ops.reduce((n, op) => n + (op === "plain" ? 1 : op === "commit" ? 2 : 0), 0));
            expect(await idleInTransaction(admin)).toEqual([]);
          }),
          { numRuns: 15 },
        );
      } finally {
        await sql.end();
      }
    }, 60_000);
  }
});

describe("transaction() when its connection breaks", () => {
  /** Ends the backend `pid` and waits until the server has let it go and the client has seen it close. */
  async function terminate(pid: number): Promise<void> {
    await admin`SELECT pg_terminate_backend(${pid})`;
    while ((await admin`SELECT 1 FROM pg_stat_activity WHERE pid = ${pid}`).length > 0) await sleep(10);
    await sleep(100);
  }

  it("rejects as the database unavailable, and the pool keeps working", async () => {
    const sql = pool(2);
    try {
      const err: unknown = await transaction(sql, async (tx) => {
        const [me] = await tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
        await tx`INSERT INTO tx_probe (k) VALUES ('broken-1')`;
        await admin`SELECT pg_terminate_backend(${me!.pid})`;
        await tx`INSERT INTO tx_probe (k) VALUES ('broken-2')`;
      }).catch((e: unknown) => e);
      expect(isConnectionFailure(err)).toBe(true);
      expect(asStoreError(err)).toBeInstanceOf(StoreUnavailableError);
      // The first statement on the reconnected connection may still get the old session's 57P01
      // (postgres.js keeps the error response across the close): wait until one goes through.
      while (!(await sql`SELECT 1`.then(() => true, () => false)));
      const after = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? transaction(sql, (tx) => tx`INSERT INTO tx_probe (k) VALUES (${`after-break-${i}`})`) : sql`INSERT INTO tx_probe (k) VALUES (${`after-break-${i}`})`)),
      );
      expect(after).toHaveLength(20);
      expect((await rows("after-break-")).size).toBe(20);
      expect(await rows("broken-")).toEqual(new Map());
      expect(await idleInTransaction(admin)).toEqual([]);
    } finally {
      await sql.end();
    }
  });

  it("refuses the callback's statements once the pool has reconnected its connection for other work", async () => {
    const sql = pool(2);
    try {
      const outcome = transaction(sql, async (tx) => {
        const [me] = await tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
        // The connection closes while the callback waits on something else (the relay awaits NATS so).
        await terminate(me!.pid);
        // The other connection busy, the pool connects the closed one again for the next query.
        const busy = sql`SELECT pg_sleep(0.3)`.execute();
        const [other] = await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
        await busy;
        expect(other!.pid).not.toBe(me!.pid);
        await tx`INSERT INTO tx_probe (k) VALUES ('recycled-1')`;
      });
      await expect(outcome).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(await rows("recycled-")).toEqual(new Map());
      await Promise.all(Array.from({ length: 6 }, () => transaction(sql, (tx) => tx`SELECT 1`)));
      expect(await idleInTransaction(admin)).toEqual([]);
    } finally {
      await sql.end();
    }
  });

  it("still gets a connection when it waited for one while a connection closed", async () => {
    // postgres.js forgets a queued reserve() when a connection closes (pool-closes.ts).
    const sql = pool(1);
    try {
      let holder = 0;
      const held = transaction(sql, async (tx) => {
        holder = (await tx<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]!.pid;
        await sleep(300);
      });
      while (holder === 0) await sleep(5);
      const waiting = transaction(sql, (tx) => tx<{ n: number }[]>`SELECT 2 AS n`);
      await sleep(50);
      const heldFails = expect(held).rejects.toBeInstanceOf(StoreUnavailableError); // handled before the cut, as it may reject first
      await admin`SELECT pg_terminate_backend(${holder})`;
      await heldFails;
      expect(await Promise.race([waiting, sleep(3000).then(() => "still waiting")])).toEqual([{ n: 2 }]);
    } finally {
      await sql.end();
    }
  });
});

describe("transaction() on the embedded database (one connection)", () => {
  it("runs transactions mixed with plain queries without waiting on itself", async () => {
    const embedded = await startEmbeddedPostgres();
    const sql = connect(embedded.url, { max: 1 });
    try {
      await migrate(sql);
      const work = Array.from({ length: 20 }, (_, i) =>
        i % 2 ? transaction(sql, (tx) => tx`SELECT ${i}::int AS i`).then((r) => r[0]!.i) : sql<{ i: number }[]>`SELECT ${i}::int AS i`.then((r) => r[0]!.i),
      );
      expect(await Promise.all([...work, outboxEvents(sql).then((e) => e.length)])).toEqual([...Array.from({ length: 20 }, (_, i) => i), 0]);
      await expect(transaction(sql, () => Promise.reject(new Error("no")))).rejects.toThrow("no");
      expect(await transaction(sql, (tx) => tx`SELECT 1 AS one`)).toEqual([{ one: 1 }]);
    } finally {
      await sql.end();
      await embedded.stop();
    }
  }, 60_000);
});
