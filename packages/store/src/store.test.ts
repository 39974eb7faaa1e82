import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  claimQuota,
  claimResources,
  ClaimConflictError,
  connect,
  insertScheduledVms,
  markPublished,
  migrate,
  prunedThrough,
  pruneEvents,
  migrations,
  readEvents,
  releaseClaim,
  sequenceEvents,
  takeDueProvisioning,
  unpublishedEvents,
  upsertNode,
  getNode,
  type Sql,
} from "./index.js";
import { createTestDatabase } from "./testing.js";
import { randomUUID } from "node:crypto";

const defaults = { cpuRatio: 2, memoryRatio: 1, diskRatio: 1, reservedVcpus: 1, reservedMemoryMib: 1024, reservedDiskGib: 0 };

describe("store on real Postgres", () => {
  let db: { url: string; drop(): Promise<void> };
  let sql: Sql;

  beforeAll(async () => {
    db = await createTestDatabase();
    sql = connect(db.url);
  });
  afterAll(async () => {
    await sql.end();
    await db.drop();
  });

  it("applies migrations once even when replicas race", async () => {
    const others = [connect(db.url), connect(db.url), connect(db.url)];
    const results = await Promise.all(others.map((s) => migrate(s)));
    await Promise.all(others.map((s) => s.end()));
    expect(results.flat().sort((a, b) => a - b)).toEqual(migrations.map((m) => m.version));
    expect(await migrate(sql)).toEqual([]);
  });

  it("claims up to allocatable and refuses past it", async () => {
    // 4 vCPUs × 2 − 1 reserved = 7 allocatable; 8192 − 1024 = 7168 MiB.
    await sql.begin((tx) =>
      upsertNode(tx, { name: "n1", address: "127.0.0.1:1", vcpus: 4, memoryMib: 8192, diskGib: 100, labels: {} }, defaults),
    );
    await sql.begin((tx) => claimResources(tx, [{ node: "n1", vcpus: 7, memoryMib: 7000, diskGib: 10 }]));
    await expect(
      sql.begin((tx) => claimResources(tx, [{ node: "n1", vcpus: 1, memoryMib: 1, diskGib: 0 }])),
    ).rejects.toBeInstanceOf(ClaimConflictError);
    const n = await getNode(sql, "n1");
    expect([n!.allocated.vcpus, n!.allocated.memoryMib]).toEqual([7, 7000]);
  });

  it("never overcommits under concurrent claims", async () => {
    await sql.begin((tx) =>
      upsertNode(tx, { name: "n2", address: "127.0.0.1:2", vcpus: 8, memoryMib: 9216, diskGib: 0, labels: {} }, defaults),
    );
    // 8192 MiB allocatable: at most 8 claims of 1024 MiB can win out of 30.
    const pool = connect(db.url, { max: 10 });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 30 }, () => pool.begin((tx) => claimResources(tx, [{ node: "n2", vcpus: 0, memoryMib: 1024, diskGib: 0 }]))),
    );
    await pool.end();
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(8);
    expect((await getNode(sql, "n2"))!.allocated.memoryMib).toBe(8192);
  });

  it("writes an event with every VM change and sequences them in commit order", async () => {
    const id = randomUUID();
    await sql.begin(async (tx) => {
      await claimResources(tx, [{ node: "n2", vcpus: 0, memoryMib: 0, diskGib: 0 }]);
      await claimQuota(tx, [{ project: "default", vcpus: 0, memoryMib: 0, diskGib: 0, vms: 1 }]);
      await insertScheduledVms(tx, [], [
        { id, name: "a", spec: {}, policy: {}, requestId: null, vcpus: 0, memoryMib: 0, diskGib: 0, node: "n2", placement: null, project: "default" },
      ]);
    });
    expect(await sequenceEvents(sql)).toBeGreaterThan(0);
    const events = await readEvents(sql, 0);
    expect(events.map((e) => e.subject)).toContain("drover.vm.scheduled");
    const seqs = events.map((e) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(await releaseClaim(sql, id)).toBe("n2");
    expect(await releaseClaim(sql, id)).toBeNull();
  });

  it("hands out unpublished events after the published cursor, oldest first", async () => {
    await sql`INSERT INTO outbox (subject, payload) SELECT 'drover.test.' || i, jsonb_build_object('n', i) FROM generate_series(1, 5) i`;
    await sequenceEvents(sql);
    const pending = await unpublishedEvents(sql);
    const mine = pending.filter((e) => e.subject.startsWith("drover.test."));
    expect(mine.map((e) => JSON.parse(e.json).n)).toEqual([1, 2, 3, 4, 5]);
    expect(JSON.parse(mine[0]!.json).id).toBe(mine[0]!.seq);

    await markPublished(sql, mine[1]!.seq);
    expect((await unpublishedEvents(sql)).map((e) => e.seq)).toEqual(mine.slice(2).map((e) => e.seq));
    await markPublished(sql, mine[4]!.seq);
    expect(await unpublishedEvents(sql)).toEqual([]);
  });

  it("takes due VMs oldest first with at most perNode in flight per node, counting what is already in flight", async () => {
    await sql.begin((tx) =>
      upsertNode(tx, { name: "d1", address: "127.0.0.1:3", vcpus: 64, memoryMib: 65536, diskGib: 0, labels: {} }, defaults),
    );
    await sql.begin((tx) =>
      upsertNode(tx, { name: "d2", address: "127.0.0.1:4", vcpus: 64, memoryMib: 65536, diskGib: 0, labels: {} }, defaults),
    );
    await sql`UPDATE vms SET state = 'DELETED' WHERE state = 'SCHEDULED'`; // earlier tests' VMs: not this queue
    // A packed bulk: 12 VMs on d1 first, then 4 on d2 (one statement, so the same created_at: id order decides nothing).
    const vm = (node: string, i: number) => ({
      id: randomUUID(), name: `${node}-${i}`, spec: {}, policy: {}, requestId: null, vcpus: 0, memoryMib: 0, diskGib: 0, node, placement: null, project: "default",
    });
    await sql.begin((tx) => insertScheduledVms(tx, [], [...Array.from({ length: 12 }, (_, i) => vm("d1", i)), ...Array.from({ length: 4 }, (_, i) => vm("d2", i))]));

    // d1 already has 3 in flight on this replica: 5 more may start there; d2 gets all 4.
    const first = await takeDueProvisioning(sql, 100, 60_000, 8, new Map([["d1", 3]]));
    const count = (rows: { node: string | null }[], node: string) => rows.filter((r) => r.node === node).length;
    expect(count(first, "d1")).toBe(5);
    expect(count(first, "d2")).toBe(4);
    expect(first.every((r) => r.nodeAddress !== null && r.nodeState === "READY")).toBe(true);

    // Taken VMs are PROVISIONING: the next pass only sees the 7 left on d1, and the global limit applies.
    const second = await takeDueProvisioning(sql, 2, 60_000, 8);
    expect(second.map((r) => r.node)).toEqual(["d1", "d1"]);
    const rest = await takeDueProvisioning(sql, 100, 60_000, 8);
    expect(count(rest, "d1")).toBe(5);
    expect(new Set([...first, ...second, ...rest].map((r) => r.id)).size).toBe(16);
  });

  it("prunes only the old run of events at the start of the sequence, published ones first, and records how far", async () => {
    await sql`INSERT INTO outbox (subject, payload) SELECT 'drover.prune.' || i, '{}' FROM generate_series(1, 5) i`;
    await sequenceEvents(sql);
    const all = await sql<{ seq: number; subject: string }[]>`SELECT seq, subject FROM outbox WHERE seq IS NOT NULL ORDER BY seq`;
    const mine = all.filter((e) => e.subject.startsWith("drover.prune."));
    // Everything before mine is old; of mine, the 3rd and 5th are young.
    await sql`UPDATE outbox SET created_at = now() - interval '2 hours' WHERE seq IS NOT NULL`;
    await sql`UPDATE outbox SET created_at = now() WHERE seq IN (${mine[2]!.seq}, ${mine[4]!.seq})`;
    const left = async () => (await sql<{ seq: number }[]>`SELECT seq FROM outbox WHERE seq IS NOT NULL ORDER BY seq`).map((r) => r.seq);

    // Nothing published yet beyond mine[0]: publishedOnly keeps the rest.
    await markPublished(sql, mine[0]!.seq);
    expect(await pruneEvents(sql, 1, true)).toBe(all.indexOf(mine[0]!) + 1);
    expect(await prunedThrough(sql)).toBe(mine[0]!.seq);
    // Without the NATS condition the old run ends before the young 3rd event; the old 4th stays too.
    expect(await pruneEvents(sql, 1, false)).toBe(1);
    expect(await left()).toEqual([mine[2]!.seq, mine[3]!.seq, mine[4]!.seq]);
    expect(await prunedThrough(sql)).toBe(mine[1]!.seq);
    expect(await pruneEvents(sql, 1, false)).toBe(0);
  });
});

describe("migration 004 (outbox cursor) on a database with sent_at", () => {
  it("starts the cursor before the first unsent event", async () => {
    const db = await createTestDatabase();
    const sql = connect(db.url);
    try {
      await sql.begin(async (tx) => {
        for (const m of migrations.filter((m) => m.version < 4)) await tx.unsafe(m.sql);
        await tx`INSERT INTO outbox (subject, payload, seq, sent_at) VALUES
          ('drover.a', '{}', 1, now()), ('drover.b', '{}', 2, now()), ('drover.c', '{}', 3, NULL), ('drover.d', '{}', 4, NULL)`;
        await tx.unsafe(migrations.find((m) => m.version === 4)!.sql);
        // The readers of today's code need today's schema (024's fan-out columns).
        for (const m of migrations.filter((m) => m.version > 4)) await tx.unsafe(m.sql);
      });
      expect((await unpublishedEvents(sql)).map((e) => e.seq)).toEqual([3, 4]);
    } finally {
      await sql.end();
      await db.drop();
    }
  });
});
