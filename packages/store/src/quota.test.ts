import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitPlacements, getProject, insertProject, QuotaExceededError, releaseClaim, type Sql } from "./index.js";
import { openTestDatabase, placedRequest, type TestDatabase } from "./testing.js";

// The quota is taken in the create's own statement: concurrent commits on many connections never take a project past it.
describe("project quotas on real Postgres", () => {
  let db: TestDatabase;
  let sql: Sql;
  beforeAll(async () => {
    db = await openTestDatabase({ max: 20 });
    sql = db.sql;
    await sql`INSERT INTO nodes (name, address, vcpus, memory_mib, disk_gib, cpu_ratio, memory_ratio, disk_ratio) VALUES ('big', 'x:1', 10000, 1000000, 1000, 1, 1, 1)`;
    await insertProject(sql, "q", { vcpus: null, memoryMib: null, diskGib: null, vms: 25 });
  });
  afterAll(async () => {
    await db?.close();
  });

  const one = (project: string) => placedRequest(["big"], 1, { project });

  it("admits exactly the quota out of 300 concurrent creates, refuses the rest naming it, and releases on delete", async () => {
    const outcomes = await Promise.allSettled(Array.from({ length: 300 }, () => commitPlacements(sql, one("q"))));
    const ok = outcomes.filter((o) => o.status === "fulfilled").length;
    const refused = outcomes.filter((o) => o.status === "rejected" && o.reason instanceof QuotaExceededError);
    expect(ok).toBe(25);
    expect(refused).toHaveLength(275);
    const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM vms WHERE project = 'q'`;
    expect(row!.n).toBe(25);
    expect((await getProject(sql, "q"))!.usedVms).toBe(25);
    const [vm] = await sql<{ id: string }[]>`SELECT id FROM vms WHERE project = 'q' LIMIT 1`;
    await releaseClaim(sql, vm!.id);
    expect((await getProject(sql, "q"))!.usedVms).toBe(24);
  });
});
