import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClaimConflictError, commitPlacements, connect, getNode, groupMembersByNode, insertScheduledVms, upsertNode, type PlacedRequests, type Sql } from "./index.js";
import { EXACT_CAPACITY, openTestDatabase, outboxEvents, placedRequest, type TestDatabase } from "./testing.js";

describe("commitPlacements on real Postgres", () => {
  let db: TestDatabase;
  let sql: Sql;

  /** What of these placements is stored: their requests, their VMs and the VMs' events. */
  async function counts(batches: PlacedRequests[]) {
    const requestIds = batches.flatMap((p) => p.requests.map((r) => r.id));
    const vmIds = new Set(batches.flatMap((p) => p.vms.map((v) => v.id)));
    const [r] = await sql<{ requests: number; vms: number }[]>`
      SELECT (SELECT count(*)::int FROM create_requests WHERE id = ANY(${requestIds}::uuid[])) AS requests,
        (SELECT count(*)::int FROM vms WHERE request_id = ANY(${requestIds}::uuid[])) AS vms`;
    const events = (await outboxEvents(sql)).filter((e) => vmIds.has(e.payload.vmId as string)).length;
    return { ...r!, events };
  }

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    for (const name of ["a", "b", "tight"]) {
      await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 64, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    }
  });
  afterAll(async () => {
    await db?.close();
  });

  it("commits the request, claims, VMs and one event per VM together", async () => {
    const p = placedRequest(["a", "b", "b"], 1024);
    const createdAt = await commitPlacements(sql, p);
    expect(createdAt).toBeInstanceOf(Date);
    expect(await counts([p])).toEqual({ requests: 1, vms: 3, events: 3 });
    expect((await getNode(sql, "a"))!.allocated.memoryMib).toBe(1024);
    expect((await getNode(sql, "b"))!.allocated.memoryMib).toBe(2048);
    const states = await sql<{ state: string; claimed: boolean }[]>`SELECT state, claimed FROM vms WHERE request_id = ${p.requests[0]!.id}`;
    expect(states.every((s) => s.state === "SCHEDULED" && s.claimed)).toBe(true);
  });

  it("writes nothing when one node refuses its claim, and names that node", async () => {
    // a has 7168 MiB free, b 6144: 6500 MiB fits on a only.
    const p = placedRequest(["a", "b"], 6500);
    const err = await commitPlacements(sql, p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClaimConflictError);
    expect((err as ClaimConflictError).nodes).toEqual(["b"]);
    expect(await counts([p])).toEqual({ requests: 0, vms: 0, events: 0 });
    // a's claim was made by the statement and rolled back with it.
    expect((await getNode(sql, "a"))!.allocated.memoryMib).toBe(1024);
    expect((await getNode(sql, "b"))!.allocated.memoryMib).toBe(2048);
  });

  it("never overcommits under concurrent commits, and a loser leaves no rows", async () => {
    // 8192 MiB: 8 of 30 concurrent 1024 MiB placements can win.
    const pool = connect(db.url, { max: 10 });
    const batches = Array.from({ length: 30 }, () => placedRequest(["tight"], 1024));
    const outcomes = await Promise.allSettled(batches.map((p) => commitPlacements(pool, p)));
    await pool.end();
    const lost = outcomes.filter((o) => o.status === "rejected");
    expect(outcomes.length - lost.length).toBe(8);
    for (const o of lost) expect(o.reason).toBeInstanceOf(ClaimConflictError);
    expect((await getNode(sql, "tight"))!.allocated.memoryMib).toBe(8192);
    expect(await counts(batches)).toEqual({ requests: 8, vms: 8, events: 8 });
  });

  it("counts group members per node, and indexes only VMs that have groups", async () => {
    const grouped = placedRequest(["a", "a", "b"], 0).vms;
    await sql.begin(async (tx) => {
      await insertScheduledVms(tx, ["web"], grouped.slice(0, 2).map((v) => ({ ...v, requestId: null })));
      await insertScheduledVms(tx, ["web", "db"], [{ ...grouped[2]!, requestId: null }]);
    });
    const members = await groupMembersByNode(sql, ["web", "db"]);
    expect(members.sort((x, y) => (x.node + x.group < y.node + y.group ? -1 : 1))).toEqual([
      { node: "a", group: "web", count: 2 },
      { node: "b", group: "db", count: 1 },
      { node: "b", group: "web", count: 1 },
    ]);
    // Migration 007: ungrouped VMs (all the others in this suite) get no entry in vms_groups_idx,
    // and the members query can still use it.
    const [idx] = await sql<{ def: string }[]>`SELECT indexdef AS def FROM pg_indexes WHERE indexname = 'vms_groups_idx'`;
    expect(idx!.def).toContain("WHERE (claimed AND (cardinality(groups) > 0))");
    const plan = await sql.begin(async (tx) => {
      await tx`SET LOCAL enable_seqscan = off`;
      return tx.unsafe(`EXPLAIN SELECT node FROM vms WHERE claimed AND cardinality(groups) > 0 AND groups && ARRAY['web']`);
    });
    expect(plan.map((r) => r["QUERY PLAN"]).join("\n")).toContain("vms_groups_idx");
  });
});
