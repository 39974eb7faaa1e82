import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connect, type Sql } from "@drover/store";
import { idleInTransaction, openTestDatabase, type TestDatabase } from "@drover/store/testing";
import { defaultConfig } from "../config.js";
import { livenessTick } from "../liveness/liveness.js";
import { registerNode } from "./register-node.js";

// RegisterNode once failed UNSAFE_TRANSACTION in a 5,000-host registration under load: sql.begin()
// had sent its BEGIN without reserving the connection. max_pipeline 0 makes postgres.js take that
// path on every BEGIN (store transaction.test.ts).
let db: TestDatabase;
let sql: Sql;

beforeAll(async () => {
  db = await openTestDatabase({ max: 1 });
  sql = connect(db.url, { max: 3, maxPipeline: 0 });
});
afterAll(async () => {
  await sql.end();
  await db.close();
});

describe("registerNode and the liveness tick, each a transaction, at max_pipeline 0", () => {
  it("commit alongside other queries and leave no transaction open", async () => {
    const registrations = Array.from({ length: 40 }, (_, i) =>
      registerNode(sql, defaultConfig, { name: `n${i}`, address: `127.0.0.1:${7000 + i}`, vcpus: 8, memoryMib: 16384, diskGib: 100, labels: {} }),
    );
    const reads = Array.from({ length: 40 }, () => sql`SELECT count(*) FROM nodes`);
    const done = await Promise.all([...registrations, livenessTick(sql, 60_000, () => {}), ...reads]);
    expect(done.slice(0, 40).map((n) => (n as { name: string }).name)).toEqual(Array.from({ length: 40 }, (_, i) => `n${i}`));
    const [row] = await db.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM nodes`;
    expect(row!.n).toBe(40);
    expect(await idleInTransaction(db.sql)).toEqual([]);
  });
});
