import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  commitPlacements,
  countVmsByNodeAndState,
  failVm,
  getVm,
  markPublished,
  markVmsLost,
  purgeVms,
  releaseClaim,
  requeueExpiredLeases,
  handleVanishedDomains,
  sequenceEvents,
  takeDueDeletions,
  takeDueProvisioning,
  transitionVm,
  type Sql,
} from "./index.js";
import { claimLedger, openTestDatabase, placedRequest, type TestDatabase } from "./testing.js";

const HOUR_MS = 3_600_000;

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

/** One create request of `count` VMs on node n1 (1 vCPU, 256 MiB, 1 GiB each) in project default, committed as the scheduler does. */
async function create(sql: Sql, count: number): Promise<{ requestId: string; vmIds: string[] }> {
  const placed = placedRequest(Array<string>(count).fill("n1"), 256, { diskGib: 1 });
  await commitPlacements(sql, placed);
  return { requestId: placed.requests[0]!.id, vmIds: placed.vms.map((v) => v.id) };
}

/** Deleted as the dispatcher does it: claim released, then DELETED. */
async function destroy(sql: Sql, id: string): Promise<void> {
  await sql.begin(async (tx) => {
    await transitionVm(tx, id, ["SCHEDULED", "RUNNING"], "DELETING");
    await releaseClaim(tx, id);
    await transitionVm(tx, id, ["DELETING"], "DELETED");
  });
}

/** Failed as the dispatcher gives up: PROVISIONING, claim released, FAILED. */
async function fail(sql: Sql, id: string): Promise<void> {
  await transitionVm(sql, id, ["SCHEDULED"], "PROVISIONING");
  await sql.begin(async (tx) => {
    await releaseClaim(tx, id);
    await failVm(tx, id, "no node left", "n1");
  });
}

const age = (sql: Sql, ids: string[], ms: number) => sql`UPDATE vms SET updated_at = now() - make_interval(secs => ${ms / 1000}) WHERE id = ANY(${ids}::uuid[])`;
/** Every event so far sequenced and published, as the relay does with NATS up. */
const publishAll = async (sql: Sql) => {
  while ((await sequenceEvents(sql)) > 0);
  const [row] = await sql<{ seq: number }[]>`SELECT coalesce(max(seq), 0) AS seq FROM outbox`;
  await markPublished(sql, row!.seq);
};

describe("VM retention on real Postgres", () => {
  let db: TestDatabase;
  let sql: Sql;
  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    await sql`INSERT INTO nodes (name, address, vcpus, memory_mib, disk_gib, cpu_ratio, memory_ratio, disk_ratio)
      VALUES ('n1', 'x:1', 1000, 1000000, 10000, 1, 1, 1), ('n2', 'x:1', 1000, 1000000, 10000, 1, 1, 1)`;
  });
  afterAll(async () => {
    await db?.close();
  });

  /** Node claims and project usage against the sums of the claimed VM rows that are left. */
  async function expectAccountingMatchesRows(): Promise<void> {
    for (const n of await claimLedger(sql)) expect(n.allocated, n.node).toEqual(n.claimed);
    const [p] = await sql<{ used: number[]; sum: number[] }[]>`
      SELECT ARRAY[p.used_vcpus, p.used_memory_mib, p.used_disk_gib, p.used_vms]::int8[] AS used,
        ARRAY[coalesce(sum(v.vcpus), 0), coalesce(sum(v.memory_mib), 0), coalesce(sum(v.disk_gib), 0), count(v.id)]::int8[] AS sum
      FROM projects p LEFT JOIN vms v ON v.project = p.name AND v.claimed WHERE p.name = 'default' GROUP BY p.name`;
    expect(p!.used).toEqual(p!.sum);
  }

  it("purges DELETED and FAILED VMs past the retention only, never live or claimed ones, and the claims still add up", async () => {
    const live = await create(sql, 3); // SCHEDULED, claimed
    const deleted = await create(sql, 2);
    const failed = await create(sql, 2);
    const young = await create(sql, 1);
    for (const id of [...deleted.vmIds, ...young.vmIds]) await destroy(sql, id);
    for (const id of failed.vmIds) await fail(sql, id);
    expect((await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM vms WHERE state = 'FAILED' AND claimed`)[0]!.n).toBe(0);
    // Old: everything but `young`, the live ones included (a live VM is never purged, however old).
    await age(sql, [...live.vmIds, ...deleted.vmIds, ...failed.vmIds], 2 * HOUR_MS);
    // A DELETED row that is somehow still claimed would leave its claim dangling: it is never purged.
    const stuck = await create(sql, 1);
    await sql`UPDATE vms SET state = 'DELETED', updated_at = now() - interval '2 hours' WHERE id = ${stuck.vmIds[0]!}`;
    await publishAll(sql);
    await expectAccountingMatchesRows();

    expect(await purgeVms(sql, HOUR_MS, true)).toEqual({ vms: 4, requests: 2 });
    for (const id of [...deleted.vmIds, ...failed.vmIds]) expect(await getVm(sql, id)).toBeNull();
    for (const id of [...live.vmIds, ...young.vmIds, ...stuck.vmIds]) expect(await getVm(sql, id)).not.toBeNull();
    const requests = await sql<{ id: string }[]>`SELECT id FROM create_requests`;
    expect(requests.map((r) => r.id).sort()).toEqual([live.requestId, young.requestId, stuck.requestId].sort());
    await expectAccountingMatchesRows();
    // Nothing left to do: a second run purges nothing.
    expect(await purgeVms(sql, HOUR_MS, true)).toEqual({ vms: 0, requests: 0 });
  });

  it("records a request without a key with no VM ids, but a count of its VMs (migration 036)", async () => {
    const r = await create(sql, 3);
    const [row] = await sql<{ n: number; left: number }[]>`SELECT cardinality(vm_ids) AS n, vms_left AS left FROM create_requests WHERE id = ${r.requestId}`;
    expect(row).toEqual({ n: 0, left: 3 });
  });

  it.each([
    ["counted (migration 036)", false],
    ["from before the count, by its vm_ids", true],
  ])("keeps a create request, %s, and so its idempotency key, until its last VM goes", async (_, legacy) => {
    const r = await create(sql, 2);
    if (legacy) await sql`UPDATE create_requests SET vm_ids = ${r.vmIds}::uuid[], vms_left = NULL WHERE id = ${r.requestId}`;
    await destroy(sql, r.vmIds[0]!);
    await age(sql, [r.vmIds[0]!], 2 * HOUR_MS);
    await publishAll(sql);
    expect(await purgeVms(sql, HOUR_MS, true)).toEqual({ vms: 1, requests: 0 });
    expect(await sql`SELECT 1 FROM create_requests WHERE id = ${r.requestId}`).toHaveLength(1);
    await destroy(sql, r.vmIds[1]!);
    await age(sql, [r.vmIds[1]!], 2 * HOUR_MS);
    await publishAll(sql);
    expect(await purgeVms(sql, HOUR_MS, true)).toEqual({ vms: 1, requests: 1 });
    expect(await sql`SELECT 1 FROM create_requests WHERE id = ${r.requestId}`).toHaveLength(0);
  });

  it("purges an old request that placed nothing", async () => {
    const id = randomUUID();
    await sql`INSERT INTO create_requests (id, idempotency_key, request_hash, vm_ids, unplaced, unplaced_reason, created_at)
      VALUES (${id}, 'nothing-placed', 'h', '{}', 5, 'no room', now() - interval '2 hours')`;
    expect(await purgeVms(sql, HOUR_MS, true)).toEqual({ vms: 0, requests: 1 });
  });

  it("never purges a VM whose events are not sequenced yet, or not published when NATS is configured", async () => {
    const r = await create(sql, 1);
    const id = r.vmIds[0]!;
    await destroy(sql, id);
    await age(sql, [id], 2 * HOUR_MS);
    // Not sequenced: kept, with or without NATS.
    expect((await purgeVms(sql, HOUR_MS, false)).vms).toBe(0);
    // Sequenced, not published: kept while NATS is to get it; without NATS, sequenced is enough.
    while ((await sequenceEvents(sql)) > 0);
    expect((await purgeVms(sql, HOUR_MS, true)).vms).toBe(0);
    expect(await getVm(sql, id)).not.toBeNull();
    await publishAll(sql);
    expect((await purgeVms(sql, HOUR_MS, true)).vms).toBe(1);
  });

  it("deletes in bounded batches, oldest first", async () => {
    const r = await create(sql, 5);
    for (const [i, id] of r.vmIds.entries()) {
      await destroy(sql, id);
      await age(sql, [id], (10 - i) * HOUR_MS);
    }
    await publishAll(sql);
    expect((await purgeVms(sql, HOUR_MS, true, 2)).vms).toBe(2);
    const left = await sql<{ id: string }[]>`SELECT id FROM vms WHERE id = ANY(${r.vmIds}::uuid[]) ORDER BY updated_at`;
    expect(left.map((v) => v.id)).toEqual(r.vmIds.slice(2));
    expect((await purgeVms(sql, HOUR_MS, true, 100)).vms).toBe(3);
  });
});

// The hot paths read partial indexes that hold no DELETED rows (migration 018): the statements the
// store sends are captured as run and EXPLAINed against a table that is mostly dead rows.
describe("hot queries on a table of dead VMs use the live-state indexes", () => {
  let db: TestDatabase;
  let sql: Sql;
  const sent: { query: string; parameters: unknown[] }[] = [];
  beforeAll(async () => {
    db = await openTestDatabase({ debug: (query, parameters) => sent.push({ query, parameters }) });
    sql = db.sql;
    await sql`INSERT INTO nodes (name, address, vcpus, memory_mib, disk_gib, cpu_ratio, memory_ratio, disk_ratio)
      SELECT 'n' || i, 'x:1', 1000, 1000000, 10000, 1, 1, 1 FROM generate_series(1, 100) i`;
    await sql`INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, state, updated_at)
      SELECT gen_random_uuid(), 'dead', '{"image": "i"}', '{}', 1, 256, 1, 'n' || (1 + i % 100), 'DELETED', now() - interval '30 days'
      FROM generate_series(1, 30000) i`;
    await sql`INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, state, claimed)
      SELECT gen_random_uuid(), 'live', '{"image": "i"}', '{}', 1, 256, 1, 'n' || (1 + i % 100),
        (ARRAY['SCHEDULED', 'PROVISIONING', 'RUNNING', 'RUNNING', 'STOPPED'])[1 + i % 5], true
      FROM generate_series(1, 500) i`;
    await sql`VACUUM ANALYZE vms`;
  });
  afterAll(async () => {
    await db?.close();
  });

  /** How the statements `run` sends (inside a transaction rolled back after) read vms: scan type and index. */
  async function planOf(run: (tx: Sql) => Promise<unknown>): Promise<string[]> {
    const rollback = new Error("rollback");
    sent.length = 0;
    await sql.begin(async (tx) => {
      await run(tx as unknown as Sql);
      throw rollback;
    }).catch((e: unknown) => {
      if (e !== rollback) throw e;
    });
    const statements = sent.filter((s) => !/^(begin|rollback)/i.test(s.query.trim()));
    expect(statements.length).toBeGreaterThan(0);
    const scans: string[] = [];
    const walk = (n: PlanNode) => {
      // A bitmap scan names its index on the child node, and the table on the parent.
      if (n["Relation Name"] === "vms" || n["Index Name"]?.startsWith("vms_")) scans.push(`${n["Node Type"]}${n["Index Name"] ? ` ${n["Index Name"]}` : ""}`);
      for (const c of n.Plans ?? []) walk(c);
    };
    for (const { query, parameters } of statements) {
      const [row] = await sql.unsafe<{ "QUERY PLAN": [{ Plan: PlanNode }] }[]>(`EXPLAIN (FORMAT JSON) ${query}`, parameters as never[]);
      walk(row!["QUERY PLAN"][0].Plan);
    }
    return scans;
  }

  it.each([
    ["takeDueProvisioning (the dispatch queue)", (tx: Sql) => takeDueProvisioning(tx, 64, 60_000), "vms_due_idx"],
    ["takeDueDeletions", (tx: Sql) => takeDueDeletions(tx, 64, 60_000), "vms_due_idx"],
    ["requeueExpiredLeases", (tx: Sql) => requeueExpiredLeases(tx), "vms_due_idx"],
    ["handleVanishedDomains (every heartbeat)", (tx: Sql) => handleVanishedDomains(tx, "n7", [], 10_000), "vms_node_state_idx"],
    ["markVmsLost", (tx: Sql) => markVmsLost(tx, ["n7"]), "vms_node_state_idx"],
    ["countVmsByNodeAndState (ListNodes, GetCapacity, /metrics)", (tx: Sql) => countVmsByNodeAndState(tx), "vms_node_state_idx"],
    ["purgeVms", (tx: Sql) => purgeVms(tx, HOUR_MS, true), "vms_dead_idx"],
  ] as const)("%s", async (_name, run, index) => {
    const scans = await planOf(run);
    // How vms is read: through the index, and never a whole-table scan; by primary key where a row is updated.
    expect(scans.some((s) => s.endsWith(index)), scans.join(", ")).toBe(true);
    expect(scans.filter((s) => !s.endsWith(index) && !/^(Index|Bitmap Index|Bitmap Heap|Index Only) Scan( vms_pkey)?$|^(ModifyTable|Update|Delete)/.test(s)), scans.join(", ")).toEqual([]);
  });
});
