import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reconcileNeeds, upsertNode, type NodeReport, type Sql } from "@drover/store";
import { commitTestVm, EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "@drover/store/testing";
import { ReconcileReads } from "./reconcile-reads.js";

const RULES = { limit: 2, backoffMs: 1000, maxBackoffMs: 300_000, windowMs: 600_000 };
const GRACE_MS = 10_000;

// The full checks of a fleet's nodes come a few a second each: their reads go together.
describe("ReconcileReads: the reconciles of the next moments, one statement", () => {
  let db: TestDatabase;
  let sql: Sql;
  const reads: string[] = [];
  const reports: NodeReport[] = [];

  beforeAll(async () => {
    db = await openTestDatabase({ debug: (q) => void (q.includes("AS vanished_due") && reads.push(q)) });
    sql = db.sql;
    for (const name of ["a", "b", "c"]) {
      await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
      const id = await commitTestVm(sql, name);
      // a: its STOPPED VM reported running (the report moves it); b: a stray (c's VM); c: its VM missing.
      reports.push({ node: name, domains: name === "a" ? [{ vmId: id, state: "running", generation: 1, reason: "" }] : [], interfaces: [], reportedVmIds: name === "a" ? [id] : [] });
    }
    await sql`UPDATE vms SET state = 'STOPPED' WHERE node = 'a'`;
    await sql`UPDATE vms SET state = 'RUNNING', updated_at = now() - interval '1 hour' WHERE node = 'c'`;
    const [strayId] = await sql<{ id: string }[]>`SELECT id FROM vms WHERE node = 'c'`;
    reports[1]!.reportedVmIds.push(strayId!.id);
  });
  afterAll(async () => {
    await db?.close();
  });

  it("reads the nodes that reconcile within the linger in one statement, each node's answer its own read's", async () => {
    const alone = await Promise.all(reports.map((r) => reconcileNeeds(sql, r, RULES, GRACE_MS)));
    expect(alone.map((n) => [n.states, n.strays.length, n.vanishedDue])).toEqual([
      [true, 0, 0],
      [false, 1, 0],
      [false, 0, 1],
    ]);
    reads.length = 0;
    const together = await Promise.all(reports.map((r) => new ReconcileReads(sql, 20).needs(r, RULES, GRACE_MS)));
    expect(reads).toHaveLength(3);
    const batcher = new ReconcileReads(sql, 20);
    reads.length = 0;
    expect(await Promise.all(reports.map((r) => batcher.needs(r, RULES, GRACE_MS)))).toEqual(alone);
    expect(reads).toHaveLength(1);
    expect(together).toEqual(alone);
  });

  it("sends a batch at its node limit, and a node's second report in the next batch", async () => {
    const batcher = new ReconcileReads(sql, 3_600_000, 2);
    reads.length = 0;
    // An hour's linger: only the limit sends a batch (a, b; then a again, c), or a node's second report (a).
    const first = [batcher.needs(reports[0]!, RULES, GRACE_MS), batcher.needs(reports[1]!, RULES, GRACE_MS)];
    const again = batcher.needs(reports[0]!, RULES, GRACE_MS);
    const second = batcher.needs(reports[0]!, RULES, GRACE_MS);
    await Promise.all([...first, again]);
    expect(reads).toHaveLength(2);
    const last = batcher.needs(reports[2]!, RULES, GRACE_MS);
    await Promise.all([second, last]);
    expect(reads).toHaveLength(3);
  });
});
