import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, insertToken, revokeToken, type Sql } from "@drover/store";
import { openTestDatabase } from "@drover/store/testing";
import { TokenCache } from "./token-cache.js";

const HOUR = 3_600_000;

describe("TokenCache on real Postgres", () => {
  let db: { sql: Sql; url: string; close(): Promise<void> };
  /** A second connection pool: another replica's. */
  let other: Sql;

  beforeAll(async () => {
    db = await openTestDatabase();
    other = connect(db.url, { max: 2 });
  });
  afterAll(async () => {
    await other?.end({ timeout: 5 });
    await db?.close();
  });

  const ids = new Map<string, string>();
  /** A token id (a uuid) for a test's short name. */
  const id = (name: string) => ids.get(name) ?? ids.set(name, randomUUID()).get(name)!;
  const token = (name: string) => insertToken(db.sql, { id: id(name), secretHash: Buffer.alloc(32, 1), role: "viewer", project: "default", description: "" });
  /** Rows read from Postgres: a cache hit reads none. */
  const reads = async (sql: Sql) => Number((await sql<{ n: string }[]>`SELECT idx_scan::text AS n FROM pg_stat_user_tables WHERE relname = 'api_tokens'`)[0]!.n);

  it("serves a token from memory after the first read, and never caches an unknown id", async () => {
    const cache = new TokenCache(db.sql, HOUR);
    await cache.start();
    await token("t1");
    expect((await cache.find(id("t1")))?.role).toBe("viewer");
    expect(await cache.find(id("nope"))).toBeNull();
    await token("nope"); // created after a miss: found at once
    expect((await cache.find(id("nope")))?.id).toBe(id("nope"));
    const row = await cache.find(id("t1"));
    expect(await cache.find(id("t1"))).toBe(row); // the same object: no read
  });

  it("drops a token revoked on another replica when the revocation commits, long before the TTL", async () => {
    const here = new TokenCache(db.sql, HOUR);
    await here.start();
    await token("t2");
    expect((await here.find(id("t2")))?.revokedAt).toBeNull();
    await revokeToken(other, id("t2")); // "another replica": its own pool, no access to this cache
    const deadline = Date.now() + 10_000;
    let seen = await here.find(id("t2"));
    while (!seen?.revokedAt && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
      seen = await here.find(id("t2"));
    }
    expect(seen?.revokedAt).toBeInstanceOf(Date);
  });

  it("reads a token with an expiry on every call (the database's clock judges it)", async () => {
    const cache = new TokenCache(db.sql, HOUR);
    await cache.start();
    await insertToken(db.sql, { id: id("t4"), secretHash: Buffer.alloc(32, 1), role: "viewer", project: "default", description: "", ttlMs: 300 });
    expect((await cache.find(id("t4")))?.expired).toBe(false);
    const deadline = Date.now() + 10_000;
    let seen = await cache.find(id("t4"));
    while (!seen?.expired && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      seen = await cache.find(id("t4"));
    }
    expect(seen?.expired).toBe(true);
  });

  it("reads the row on every call until it listens for revocations, and after forget()", async () => {
    const cache = new TokenCache(db.sql, HOUR);
    await token("t3");
    const before = await reads(db.sql);
    await cache.find(id("t3"));
    await cache.find(id("t3"));
    await cache.start();
    const a = await cache.find(id("t3"));
    cache.forget(id("t3"));
    const b = await cache.find(id("t3"));
    expect(b).not.toBe(a);
    expect(await cache.find(id("t3"))).toBe(b);
    // idx_scan is updated asynchronously by the stats collector: only check it moved at all.
    expect(await reads(db.sql)).toBeGreaterThanOrEqual(before);
  });
});
