import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as store from "./index.js";
import { tryLockPublisher, type Sql } from "./index.js";
import { openTestDatabase, type TestDatabase } from "./testing.js";

describe("advisory locks", () => {
  let db: TestDatabase;
  let sql: Sql;

  beforeAll(async () => {
    db = await openTestDatabase({ max: 4 });
    sql = db.sql;
  });
  afterAll(async () => {
    await db?.close();
  });

  it("gives the publisher lock to one transaction at a time and frees it at commit", async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let first!: () => void;
    const firstHolds = new Promise<void>((r) => (first = r));
    const holder = sql.begin(async (tx) => {
      expect(await tryLockPublisher(tx)).toBe(true);
      first();
      await held;
    });
    await firstHolds;
    expect(await sql.begin((tx) => tryLockPublisher(tx))).toBe(false);
    release();
    await holder;
    expect(await sql.begin((tx) => tryLockPublisher(tx))).toBe(true);
  });
});

describe("the production entry point", () => {
  it("exports no test helpers (they live in @drover/store/testing)", () => {
    expect(Object.keys(store)).not.toContain("createTestDatabase");
    expect(Object.keys(store)).not.toContain("TEST_SERVER_URL");
  });
});
