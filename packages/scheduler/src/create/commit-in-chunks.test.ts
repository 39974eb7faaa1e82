import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CreateVmsRequest, CreateVmsResponse, VmSpec } from "@drover/proto";
import { COMMIT_CHUNK_VMS, QuotaExceededError, upsertNode, type Sql } from "@drover/store";
import { EXACT_CAPACITY, openTestDatabase, outboxEvents, type TestDatabase } from "@drover/store/testing";
import { defaultConfig } from "../config.js";
import { IdempotencyKeyReusedError, PlacementExhaustedError } from "../errors.js";
import { createMetrics } from "../metrics.js";
import { validateCreate } from "../api/validation.js";
import { encodedAhead } from "../api/encoded-ahead.js";
import type { AuditSlot } from "../auth/guard.js";
import { createVms, type CreateDeps } from "./create-vms.js";
import { GroupCache } from "./group-cache.js";
import { NodeCache } from "./node-cache.js";
import { placementOptionsFor } from "./placement-options.js";

// 20 hosts of 200 vCPUs: one bulk of 3,000 one-vCPU VMs fits, two do not.
const HOSTS = 20;
const BULK = COMMIT_CHUNK_VMS + 500;

describe("a bulk create in chunks (commit-in-chunks.ts) on real Postgres", () => {
  let db: TestDatabase;
  let sql: Sql;
  const config = { ...defaultConfig, databaseUrl: "unused" };
  /** One replica's create dependencies: its own caches of the nodes and groups. */
  const replica = (): CreateDeps => ({
    sql,
    metrics: createMetrics(sql),
    claimRetries: config.claimRetries,
    placementOptions: placementOptionsFor(config),
    nodes: new NodeCache(sql, 60_000),
    groups: new GroupCache(sql, 60_000),
    onScheduled: () => {},
  });
  const create = (deps: CreateDeps, name: string, audit?: AuditSlot, more: Partial<CreateVmsRequest> = {}) => {
    const raw = CreateVmsRequest.fromPartial({ template: VmSpec.fromPartial({ name, vcpus: 1, memoryMib: 64, diskGib: 1 }), count: BULK, ...more });
    return createVms(deps, raw, { ...validateCreate(raw, config.defaultStrategy), project: "default" }, Infinity, audit);
  };
  /** Every VM, request and claim gone, each host with `allocated` vCPUs taken. */
  async function reset(allocated = 0) {
    await sql`DELETE FROM outbox`;
    await sql`DELETE FROM vms`;
    await sql`DELETE FROM create_requests`;
    await sql`UPDATE nodes SET alloc_vcpus = ${allocated}, alloc_memory_mib = 0, alloc_disk_gib = 0`;
    await sql`UPDATE projects SET used_vcpus = 0, used_memory_mib = 0, used_disk_gib = 0, used_vms = 0, quota_vcpus = NULL`;
  }
  /** What Postgres holds, and whether the replica's view of the nodes took its room back. */
  async function written(deps: CreateDeps) {
    const [row] = await sql<{ vms: number; requests: number; events: number; alloc: number; used: number }[]>`
      SELECT (SELECT count(*)::int FROM vms) AS vms, (SELECT count(*)::int FROM create_requests) AS requests,
        (SELECT count(*)::int FROM outbox) AS events, (SELECT sum(alloc_vcpus)::int FROM nodes) AS alloc,
        (SELECT used_vcpus FROM projects WHERE name = 'default') AS used`;
    const view = (await deps.nodes.get()).snapshots.reduce((s, n) => s + n.allocated.vcpus, 0);
    return { ...row!, view };
  }

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    for (let i = 0; i < HOSTS; i++) {
      await upsertNode(sql, { name: `h${i}`, address: "127.0.0.1:1", vcpus: 200, memoryMib: 1 << 20, diskGib: 100_000, labels: {} }, EXACT_CAPACITY);
    }
  });
  afterAll(async () => {
    await db?.close();
  });

  it("commits every VM, claim, event and the audit event, and answers with the bytes of what committed", async () => {
    const audit: AuditSlot = {
      entry: { verb: "create_vms", tokenId: "t", role: "admin", project: "default", method: "/drover.v1.VmService/CreateVms", target: "default", result: "OK", message: "" },
      written: false,
    };
    const res = await create(replica(), "chunked", audit);
    expect(res.vms).toHaveLength(BULK);
    expect(audit.written).toBe(true);
    const rows = await sql<{ id: string; node: string; created_at: Date }[]>`SELECT id, node, created_at FROM vms WHERE name LIKE 'chunked-%'`;
    const byId = new Map(rows.map((r) => [r.id, r]));
    expect(rows).toHaveLength(BULK);
    for (const vm of res.vms) {
      expect(byId.get(vm.id)?.node).toBe(vm.node);
      expect(byId.get(vm.id)!.created_at.getTime()).toBe(Number(vm.createdAt!.seconds) * 1000 + Math.floor(vm.createdAt!.nanos / 1e6));
    }
    // Without a key the request lists no VMs, it counts them (migration 036).
    const [request] = await sql<{ n: number; left: number }[]>`SELECT cardinality(vm_ids) AS n, vms_left AS left FROM create_requests`;
    expect(request).toEqual({ n: 0, left: BULK });
    const [alloc] = await sql<{ n: number }[]>`SELECT sum(alloc_vcpus)::int AS n FROM nodes`;
    expect(alloc!.n).toBe(BULK);
    const events = await outboxEvents(sql);
    expect(events.filter((e) => e.subject === "drover.vm.scheduled")).toHaveLength(BULK);
    expect(events.filter((e) => e.subject === "drover.audit.create_vms")).toHaveLength(1);
    // What the server sends is what was encoded ahead, and that is the response.
    const ahead = encodedAhead(res);
    expect(ahead).toBeDefined();
    expect(Buffer.compare(ahead!, Buffer.from(CreateVmsResponse.encode(res).finish()))).toBe(0);
  });

  it("never overcommits when two replicas' bulks race for the room of one: the loser is refused whole", async () => {
    // The first test left 1,000 vCPUs free: neither bulk fits now, so free the room, then race.
    await reset();
    const [a, b] = [replica(), replica()];
    await Promise.all([a.nodes.get(true), b.nodes.get(true)]); // both views see all the room
    const outcomes = await Promise.allSettled([create(a, "race-a"), create(b, "race-b")]);
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
    const [row] = await sql<{ vms: number; requests: number; over: number; alloc: number }[]>`
      SELECT (SELECT count(*)::int FROM vms) AS vms, (SELECT count(*)::int FROM create_requests) AS requests,
        (SELECT count(*)::int FROM nodes WHERE alloc_vcpus > vcpus) AS over, (SELECT sum(alloc_vcpus)::int FROM nodes) AS alloc`;
    expect(row).toEqual({ vms: BULK, requests: 1, over: 0, alloc: BULK });
  });

  it("places, chunk by chunk, what one placement of the whole bulk does: a dry run predicts it", async () => {
    await reset(7); // uneven room, so spread's choices matter
    await sql`UPDATE nodes SET alloc_vcpus = alloc_vcpus + length(name) * 13 % 29`;
    const deps = replica();
    const predicted = await create(deps, "same", undefined, { dryRun: true });
    const res = await create(deps, "same");
    expect(res.vms).toHaveLength(BULK);
    const where = (vms: { spec?: { name: string }; node: string }[]) => new Map(vms.map((v) => [v.spec!.name, v.node]));
    expect(where(res.vms)).toEqual(where(predicted.vms));
    const rows = await sql<{ name: string; node: string }[]>`SELECT name, node FROM vms`;
    expect(new Map(rows.map((r) => [r.name, r.node]))).toEqual(where(predicted.vms));
  });

  it("rolls back every chunk sent when a later chunk leaves the bulk short of min_count", async () => {
    await reset(60); // 20 hosts × 140 vCPUs free: the first chunk (2,500) places, the second does not all
    const deps = replica();
    const err = await create(deps, "short", undefined, { minCount: 2_900 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlacementExhaustedError);
    expect((err as Error).message).toMatch(/2800/);
    expect(await written(deps)).toEqual({ vms: 0, requests: 0, events: 0, alloc: 20 * 60, used: 0, view: 20 * 60 });
    // With min_count met, the same bulk commits what fits.
    const ok = await create(deps, "short", undefined, { minCount: 2_800 });
    expect(ok.vms).toHaveLength(2_800);
    expect(ok.unplaced).toBe(200);
    expect(await written(deps)).toMatchObject({ vms: 2_800, requests: 1, alloc: 20 * 200, used: 2_800, view: 20 * 200 });
  });

  it("writes nothing when the project's quota refuses the whole bulk, though its first chunk was within it", async () => {
    await reset();
    await sql`UPDATE projects SET quota_vcpus = ${COMMIT_CHUNK_VMS + 100} WHERE name = 'default'`;
    const deps = replica();
    await expect(create(deps, "quota")).rejects.toBeInstanceOf(QuotaExceededError);
    expect(await written(deps)).toEqual({ vms: 0, requests: 0, events: 0, alloc: 0, used: 0, view: 0 });
  });

  it("takes a keyed bulk in chunks too: a retry of its key returns the same VMs, another request with it is refused", async () => {
    await reset();
    const deps = replica();
    const first = await create(deps, "keyed", undefined, { idempotencyKey: "bulk-1" });
    expect(first.vms).toHaveLength(BULK);
    expect(encodedAhead(first)).toBeDefined(); // the chunked path encodes its answer ahead
    const [request] = await sql<{ key: string; n: number; left: number }[]>`SELECT idempotency_key AS key, cardinality(vm_ids) AS n, vms_left AS left FROM create_requests`;
    expect(request).toEqual({ key: "bulk-1", n: BULK, left: BULK });
    const again = await create(replica(), "keyed", undefined, { idempotencyKey: "bulk-1" });
    expect(again.vms.map((v) => v.id).sort()).toEqual(first.vms.map((v) => v.id).sort());
    await expect(create(replica(), "other", undefined, { idempotencyKey: "bulk-1" })).rejects.toBeInstanceOf(IdempotencyKeyReusedError);
    expect(await written(deps)).toMatchObject({ vms: BULK, requests: 1, alloc: BULK, used: BULK, view: BULK });
  });

  it("commits a key once when two replicas send the same keyed bulk at once: both answer with its VMs", async () => {
    await reset(40); // room for one of the two bulks only (20 × 160 vCPUs)
    const [a, b] = [replica(), replica()];
    await Promise.all([a.nodes.get(true), b.nodes.get(true)]);
    const [ra, rb] = await Promise.all([create(a, "twin", undefined, { idempotencyKey: "twin-1" }), create(b, "twin", undefined, { idempotencyKey: "twin-1" })]);
    expect(ra.vms).toHaveLength(BULK);
    expect(rb.vms.map((v) => v.id).sort()).toEqual(ra.vms.map((v) => v.id).sort());
    const [row] = await sql<{ over: number }[]>`SELECT count(*)::int AS over FROM nodes WHERE alloc_vcpus > vcpus`;
    expect(row!.over).toBe(0);
    expect(await written(a)).toMatchObject({ vms: BULK, requests: 1, alloc: 20 * 40 + BULK, used: BULK });
  });

  it("replays the key's VMs to a twin whose claims had room too: the key's insert refuses it after the first commits", async () => {
    await reset(); // room for both bulks' claims: the twin is stopped by the key alone
    await sql`UPDATE nodes SET vcpus = 400`;
    try {
      const [a, b] = [replica(), replica()];
      await Promise.all([a.nodes.get(true), b.nodes.get(true)]);
      const [ra, rb] = await Promise.all([create(a, "twin2", undefined, { idempotencyKey: "twin-2" }), create(b, "twin2", undefined, { idempotencyKey: "twin-2" })]);
      expect(rb.vms.map((v) => v.id).sort()).toEqual(ra.vms.map((v) => v.id).sort());
      expect(await written(a)).toMatchObject({ vms: BULK, requests: 1, alloc: BULK, used: BULK });
    } finally {
      await sql`UPDATE nodes SET vcpus = 200`;
    }
  });
});

describe("a bulk create in chunks: Postgres writes while the engine still places", () => {
  let db: TestDatabase;
  const config = { ...defaultConfig, databaseUrl: "unused" };
  const HOSTS_BIG = 50; // × 256 vCPUs: room for four chunks of one-vCPU VMs
  const VMS = 4 * COMMIT_CHUNK_VMS;

  beforeAll(async () => {
    db = await openTestDatabase();
    for (let i = 0; i < HOSTS_BIG; i++) {
      await upsertNode(db.sql, { name: `b${i}`, address: "127.0.0.1:1", vcpus: 256, memoryMib: 1 << 20, diskGib: 100_000, labels: {} }, EXACT_CAPACITY);
    }
  });
  afterAll(async () => {
    await db?.close();
  });

  it("has its first rows written before the last placement step, with a deadline set (statement_timeout)", async () => {
    const sql = db.sql;
    // Each step of the engine counts its VMs into the view (reserve); the last one ends the placement.
    let reservations = 0;
    let writingAt: number | undefined;
    class CountingCache extends NodeCache {
      override reserve(claims: Parameters<NodeCache["reserve"]>[0]) {
        reservations++;
        return super.reserve(claims);
      }
    }
    const deps: CreateDeps = {
      sql,
      metrics: createMetrics(sql),
      claimRetries: config.claimRetries,
      placementOptions: placementOptionsFor(config),
      nodes: new CountingCache(sql, 60_000),
      groups: new GroupCache(sql, 60_000),
      onScheduled: () => {},
    };
    await deps.nodes.get(true);
    // A backend of this database with a transaction id has written: the bulk's first chunk has reached Postgres.
    let done = false;
    const watch = (async () => {
      while (!done && writingAt === undefined) {
        const [row] = await sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL`;
        if (row!.n > 0) writingAt = reservations;
      }
    })();
    const raw = CreateVmsRequest.fromPartial({ template: VmSpec.fromPartial({ name: "overlap", vcpus: 1, memoryMib: 64, diskGib: 1 }), count: VMS });
    try {
      const res = await createVms(deps, raw, { ...validateCreate(raw, config.defaultStrategy), project: "default" }, Date.now() + 60_000);
      expect(res.vms).toHaveLength(VMS);
    } finally {
      done = true;
      await watch;
    }
    // Before: the deadline's set_config waited for a Describe round trip, and the engine placed
    // each chunk of 2,500 without giving the event loop back, so the first chunk reached Postgres
    // only after the last was placed (writingAt undefined, or reservations).
    expect(writingAt).toBeDefined();
    expect(writingAt!).toBeLessThan(reservations);
  });
});
