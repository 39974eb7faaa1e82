import { createServer } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Sql } from "./db.js";
import { asStoreError, ClaimConflictError, StoreUnavailableError } from "./errors.js";
import { createTestDatabase } from "./testing.js";

/** A port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

const failure = (p: Promise<unknown>) => p.then(() => { throw new Error("expected the query to fail"); }, (e: unknown) => e);

// Real postgres.js failures, classified: the database out of reach is
// StoreUnavailableError (driver error as cause); a bad query stays what it is.
describe("store errors from real driver failures", () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let sql: Sql;
  beforeAll(async () => {
    db = await createTestDatabase();
    sql = connect(db.url, { max: 2 });
  });
  afterAll(async () => {
    await sql?.end();
    await db?.drop();
  });

  it("a refused connection is unavailable, and the message names no address", async () => {
    const port = await closedPort();
    const dead = connect(`postgres://postgres@127.0.0.1:${port}/x`, { max: 1 });
    const raw = await failure(dead`SELECT 1`);
    await dead.end();
    expect((raw as { code?: string }).code).toBe("ECONNREFUSED");
    const err = asStoreError(raw);
    expect(err).toBeInstanceOf(StoreUnavailableError);
    expect((err as Error).message).toBe("database unavailable; retry");
    expect((err as Error).cause).toBe(raw);
  });

  it("a pool that was ended is unavailable", async () => {
    const ended = connect(db.url, { max: 1 });
    await ended.end();
    const raw = await failure(ended`SELECT 1`);
    expect((raw as { code?: string }).code).toBe("CONNECTION_ENDED");
    expect(asStoreError(raw)).toBeInstanceOf(StoreUnavailableError);
  });

  it("a write to a socket the server had closed (node's EPIPE with no syscall) is unavailable", () => {
    // As net.js writeAfterFIN makes it; a CreateVms during a Postgres restart got INTERNAL for it
    // (test/faults/postgres-restart.test.ts, "This socket has been ended by the other party").
    const raw = Object.assign(new Error("This socket has been ended by the other party"), { code: "EPIPE" });
    expect(asStoreError(raw)).toBeInstanceOf(StoreUnavailableError);
  });

  it("a backend terminated by an administrator (57P01) is unavailable", async () => {
    const victim = connect(db.url, { max: 1 });
    const [row] = await victim<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`;
    const pid = row!.pid;
    const pending = failure(victim`SELECT pg_sleep(30)`);
    await new Promise((r) => setTimeout(r, 200));
    await sql`SELECT pg_terminate_backend(${pid})`;
    const raw = await pending;
    await victim.end({ timeout: 1 }); // without a timeout, end() after a terminated backend hung (over 20 s in a trial)
    expect(["57P01", "CONNECTION_CLOSED"]).toContain((raw as { code?: string }).code);
    expect(asStoreError(raw)).toBeInstanceOf(StoreUnavailableError);
  });

  it("a real deadlock is a claim conflict (a lock race, the driver's error as cause), so callers retry it", async () => {
    await sql`CREATE TABLE race (id int PRIMARY KEY)`;
    await sql`INSERT INTO race VALUES (1), (2)`;
    // Two transactions lock 1 and 2 in opposite orders; Postgres aborts one of them with 40P01.
    let bothHoldOne!: () => void;
    const held = new Promise<void>((r) => {
      let n = 0;
      bothHoldOne = () => void (++n === 2 && r());
    });
    const lockBoth = (first: number, second: number) =>
      sql.begin(async (tx) => {
        await tx`SELECT * FROM race WHERE id = ${first} FOR UPDATE`;
        bothHoldOne();
        await held;
        await tx`SELECT * FROM race WHERE id = ${second} FOR UPDATE`;
      });
    const outcomes = await Promise.allSettled([lockBoth(1, 2), lockBoth(2, 1)]);
    const lost = outcomes.flatMap((o) => (o.status === "rejected" ? [o.reason as { code?: string }] : []));
    expect(lost.map((e) => e.code)).toEqual(["40P01"]);
    const mapped = asStoreError(lost[0]);
    expect(mapped).toBeInstanceOf(ClaimConflictError);
    expect((mapped as Error).cause).toBe(lost[0]);
    expect((mapped as Error).message).toBe("conflict with a concurrent transaction; nothing was written, retry");
  });

  it("a bad query and the store's own errors stay as they are", async () => {
    const raw = await failure(sql`SELECT * FROM no_such_table`);
    expect(asStoreError(raw)).toBe(raw);
    const conflict = new ClaimConflictError(["a"]);
    expect(asStoreError(conflict)).toBe(conflict);
  });
});
