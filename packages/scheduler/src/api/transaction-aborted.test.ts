import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { transaction } from "@drover/store";
import { openTestDatabase } from "@drover/store/testing";
import { streamStatus } from "./grpc-status.js";

// Real Postgres: a transaction whose callback catches a failed statement and returns gets ROLLBACK
// for its COMMIT. A client must hear that nothing was written and that it may retry (ABORTED),
// not an INTERNAL error id.
describe("a transaction Postgres rolled back at COMMIT, as a client sees it", () => {
  let db: Awaited<ReturnType<typeof openTestDatabase>>;
  beforeAll(async () => {
    db = await openTestDatabase();
    await db.sql`CREATE TABLE aborted_probe (k text PRIMARY KEY)`;
  });
  afterAll(() => db.close());

  it("answers ABORTED saying nothing was written, retry", async () => {
    const err: unknown = await transaction(db.sql, async (tx) => {
      await tx`INSERT INTO aborted_probe (k) VALUES ('a')`;
      await tx`INSERT INTO aborted_probe (k) VALUES ('a')`.catch(() => {});
    }).catch((e: unknown) => e);
    const logged: string[] = [];
    const answer = streamStatus(err, "test", (m) => logged.push(m));
    expect({ code: answer.code, details: answer.details }).toEqual({
      code: status.ABORTED,
      details: "transaction aborted: one of its statements failed, so Postgres rolled it back at COMMIT; nothing was written, retry",
    });
    expect(logged).toEqual([]);
    expect(await db.sql`SELECT k FROM aborted_probe`).toHaveLength(0);
  });
});
