import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClaimConflictError, commitPlacementsInChunks, DeadlineExceededError, QuotaExceededError, getNode, upsertNode, type PlacedRequests, type Sql } from "./index.js";
import { EXACT_CAPACITY, inChunks, openTestDatabase, outboxEvents, placedRequest, type TestDatabase } from "./testing.js";

describe("commitPlacementsInChunks on real Postgres", () => {
  let db: TestDatabase;
  let sql: Sql;

  async function counts(p: PlacedRequests) {
    const vmIds = new Set(p.vms.map((v) => v.id));
    const [r] = await sql<{ requests: number; vms: number; times: number }[]>`
      SELECT (SELECT count(*)::int FROM create_requests WHERE id = ${p.requests[0]!.id}) AS requests,
        (SELECT count(*)::int FROM vms WHERE request_id = ${p.requests[0]!.id}) AS vms,
        (SELECT count(DISTINCT created_at)::int FROM vms WHERE request_id = ${p.requests[0]!.id}) AS times`;
    const events = (await outboxEvents(sql)).filter((e) => vmIds.has(e.payload.vmId as string)).length;
    return { requests: r!.requests, vms: r!.vms, events, times: r!.times };
  }
  const allocated = async (node: string) => (await getNode(sql, node))!.allocated.memoryMib;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    for (const name of ["a", "b"]) {
      await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 64, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    }
  });
  afterAll(async () => {
    await db?.close();
  });

  it("commits the request, every claim, the VMs of all chunks and their events, with one creation time", async () => {
    const p = placedRequest(["a", "b", "b", "a", "b"], 512);
    const seen: Date[] = [];
    const answer = await commitPlacementsInChunks(sql, inChunks(p, 2, (createdAt) => (seen.push(createdAt), "answer")), Infinity);
    expect(answer).toBe("answer");
    expect(await counts(p)).toEqual({ requests: 1, vms: 5, events: 5, times: 1 });
    const [row] = await sql<{ created_at: Date }[]>`SELECT created_at FROM vms WHERE request_id = ${p.requests[0]!.id} LIMIT 1`;
    expect(seen).toEqual([row!.created_at]);
    expect(await allocated("a")).toBe(1024);
    expect(await allocated("b")).toBe(1536);
  });

  it("writes nothing when a node refuses its claim, and names that node", async () => {
    // b has 6656 MiB free: 4 VMs of 2048 on it do not fit.
    const p = placedRequest(["a", "b", "b", "b", "b"], 2048);
    const err = await commitPlacementsInChunks(sql, inChunks(p, 2, () => "answer"), Infinity).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ClaimConflictError);
    expect((err as ClaimConflictError).nodes).toEqual(["b"]);
    expect(await counts(p)).toEqual({ requests: 0, vms: 0, events: 0, times: 0 });
    expect(await allocated("a")).toBe(1024);
  });

  it("refuses the quota of every chunk's VMs, not only the last chunk's, and writes nothing", async () => {
    await sql`UPDATE projects SET quota_vms = used_vms + 4 WHERE name = 'default'`;
    try {
      const p = placedRequest(["a", "b", "a", "b", "a"], 16); // the last chunk alone (1 VM) is within it
      const err = await commitPlacementsInChunks(sql, inChunks(p, 2, () => "answer"), Infinity).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(QuotaExceededError);
      expect(await counts(p)).toEqual({ requests: 0, vms: 0, events: 0, times: 0 });
      expect(await allocated("a")).toBe(1024);
    } finally {
      await sql`UPDATE projects SET quota_vms = NULL WHERE name = 'default'`;
    }
  });

  it("rolls back every chunk's rows when the caller refuses while placing a later chunk", async () => {
    const p = placedRequest(["a", "b", "a", "b", "a"], 256);
    const chunks = inChunks(p, 2, () => "answer");
    let calls = 0;
    const refusing = { ...chunks, next: () => (++calls === 3 ? (() => { throw new Error("short of min_count"); })() : chunks.next()) };
    await expect(commitPlacementsInChunks(sql, refusing, Infinity)).rejects.toThrow("short of min_count");
    expect(await counts(p)).toEqual({ requests: 0, vms: 0, events: 0, times: 0 });
    expect(await allocated("a")).toBe(1024);
    expect(await allocated("b")).toBe(1536);
  });

  it("rolls back the first chunk's rows and every claim when a later chunk fails", async () => {
    const p = placedRequest(["a", "b", "a", "b"], 256);
    p.vms[3]!.id = p.vms[0]!.id; // the second chunk repeats the first's id: its insert fails
    const err = await commitPlacementsInChunks(sql, inChunks(p, 2, () => "answer"), Infinity).catch((e: unknown) => e);
    expect((err as { code?: string }).code).toBe("23505");
    expect(await counts(p)).toEqual({ requests: 0, vms: 0, events: 0, times: 0 });
    expect(await allocated("a")).toBe(1024);
    expect(await allocated("b")).toBe(1536);
  });

  it("sends no COMMIT once the deadline passed, however far the statements got", async () => {
    const p = placedRequest(["a", "b", "a"], 256);
    const deadline = Date.now() + 2_000;
    const busy = () => {
      while (Date.now() < deadline + 20); // the response took past the deadline to build
    };
    await expect(commitPlacementsInChunks(sql, inChunks(p, 2, busy), deadline)).rejects.toBeInstanceOf(DeadlineExceededError);
    expect(await counts(p)).toEqual({ requests: 0, vms: 0, events: 0, times: 0 });
    expect(await allocated("a")).toBe(1024);
  });

  it("takes no VMs naming groups: their check needs one statement", async () => {
    const p = placedRequest(["a"], 256);
    p.vms[0]!.groups = ["g"];
    await expect(commitPlacementsInChunks(sql, inChunks(p, 2, () => 0), Infinity)).rejects.toThrow(/groups/);
  });
});
