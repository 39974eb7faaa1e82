import { randomBytes, randomUUID } from "node:crypto";
import { connect, type ConnectOptions, type Db, type Sql } from "./db.js";
import { migrate } from "./migrations.js";
import { readEvents } from "./outbox.js";
import { eventsThroughRow, rowEvents } from "./outbox-fan-out.js";
import { commitPlacements, type PlacedRequests } from "./placements.js";
import type { NewVm } from "./vms.js";
import type { PlacementChunks } from "./placements-in-chunks.js";
import type { Resources } from "./domain.js";
import type { NodeDefaults } from "./nodes.js";
import { transaction } from "./transaction.js";

/** The server the test suites use; every suite gets a database of its own on it. */
export const TEST_SERVER_URL = process.env.DROVER_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** Creates an empty database for one test suite; drop() removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `drover_test_${randomBytes(6).toString("hex")}`;
  const admin = connect(TEST_SERVER_URL, { max: 1 });
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(TEST_SERVER_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const a = connect(TEST_SERVER_URL, { max: 1 });
      await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}

/** Allocation ratios of 1 and nothing reserved: a node registered with these offers exactly its capacity. */
export const EXACT_CAPACITY: NodeDefaults = { cpuRatio: 1, memoryRatio: 1, diskRatio: 1, reservedVcpus: 0, reservedMemoryMib: 0, reservedDiskGib: 0 };

/**
 * Commits one diskless VM of this size on `node` (project "default") as a create would: its claim
 * made, the VM SCHEDULED. Returns its id.
 */
export async function commitTestVm(db: Db, node: string, size: { vcpus?: number; memoryMib?: number } = {}): Promise<string> {
  const placed = placedRequest([node], size.memoryMib ?? 256, { vcpus: size.vcpus ?? 1, name: "v" });
  await commitPlacements(db, placed);
  return placed.vms[0]!.id;
}

/** A migrated database of one suite's own, with a connection; close() ends it and drops the database. */
export interface TestDatabase {
  url: string;
  sql: Sql;
  close(): Promise<void>;
}

export async function openTestDatabase(options: ConnectOptions = {}): Promise<TestDatabase> {
  const db = await createTestDatabase();
  const sql = connect(db.url, options);
  await migrate(sql);
  return {
    url: db.url,
    sql,
    async close() {
      await sql.end();
      await db.drop();
    },
  };
}

/**
 * Per node, what its row says is allocated and what its claimed VMs add up
 * to: the two agree whenever no claim bypassed claims.ts.
 */
export async function claimLedger(db: Db): Promise<{ node: string; allocated: Resources; claimed: Resources }[]> {
  const rows = await db<{ node: string; av: number; am: number; ad: number; cv: number; cm: number; cd: number }[]>`
    SELECT n.name AS node, n.alloc_vcpus AS av, n.alloc_memory_mib AS am, n.alloc_disk_gib AS ad,
      coalesce(sum(v.vcpus) FILTER (WHERE v.claimed), 0)::int AS cv,
      coalesce(sum(v.memory_mib) FILTER (WHERE v.claimed), 0)::int8 AS cm,
      coalesce(sum(v.disk_gib) FILTER (WHERE v.claimed), 0)::int8 AS cd
    FROM nodes n LEFT JOIN vms v ON v.node = n.name GROUP BY n.name ORDER BY n.name`;
  return rows.map((r) => ({
    node: r.node,
    allocated: { vcpus: r.av, memoryMib: r.am, diskGib: r.ad },
    claimed: { vcpus: r.cv, memoryMib: r.cm, diskGib: r.cd },
  }));
}

/** An outbox event as published: one per VM of a fan-out row (migration 024). */
export interface OutboxEvent {
  /** Null until sequenced. */
  seq: number | null;
  subject: string;
  payload: Record<string, unknown>;
}

/**
 * Every event in the outbox in the order subscribers get them: the sequenced ones as the relay and
 * WatchEvents read them (readEvents), then those not sequenced yet (seq null) in the order the
 * sequencer will number them, fanned out by the same fragment. In one snapshot, so a sequencer
 * running meanwhile (a live scheduler's) neither hides an event nor shows one twice.
 */
export async function outboxEvents(sql: Sql): Promise<OutboxEvent[]> {
  return transaction(sql, { isolation: "repeatable read", readOnly: true }, async (tx) => {
    const sequenced: OutboxEvent[] = await readEvents(tx, 0, 1_000_000_000);
    const pending = await tx<OutboxEvent[]>`
      SELECT NULL::int8 AS seq, o.subject, e.payload
      FROM (SELECT subject, payload, vm_ids, nodes, ${eventsThroughRow(tx)} AS seq FROM outbox WHERE seq IS NULL) o
      CROSS JOIN LATERAL (${rowEvents(tx, 0)}) e
      ORDER BY e.seq`;
    return [...sequenced, ...pending];
  });
}

/** `placed` as commitPlacementsInChunks takes it: its VMs in chunks of `chunkVms`, the rest after the last. */
export function inChunks<T>(placed: PlacedRequests, chunkVms: number, whileCommitting: (createdAt: Date) => T): PlacementChunks<T> {
  let at = 0;
  const { vms, ...rest } = placed;
  return {
    next: () => {
      const chunk = vms.slice(at, (at += chunkVms));
      return { vms: chunk, last: at >= vms.length };
    },
    finish: () => rest,
    whileCommitting,
  };
}

/** The groups each VM of a placedRequest() joins: hard anti-affinity, hard affinity, and soft (member only). */
export interface PlacedRequestGroups {
  anti?: string;
  affinity?: string;
  soft?: string;
}

export interface PlacedRequestOptions {
  /** @default 1 */
  vcpus?: number;
  /** @default 0 */
  diskGib?: number;
  /** @default "default" */
  project?: string;
  /** VM i is named `${name}-${i}`. @default "vm" */
  name?: string;
  /** One spec object all the VMs share, as a bulk create's do; without it each VM has its own `{ name }`. */
  spec?: Record<string, unknown>;
  /** Group memberships of every VM; without it the VMs are in no group (no `groups` field). */
  groups?: PlacedRequestGroups;
}

/** One request placing one VM of `memoryMib` (and `vcpus`, in `groups`) on each of `nodes`. */
export function placedRequest(nodes: string[], memoryMib: number, options: PlacedRequestOptions = {}): PlacedRequests {
  const requestId = randomUUID();
  const g = options.groups;
  const prefix = options.name ?? "vm";
  const membership: Partial<NewVm> = g
    ? {
        groups: [g.anti, g.affinity, g.soft].filter((name): name is string => !!name),
        ...(g.anti ? { antiAffinityGroup: g.anti } : {}),
        ...(g.affinity ? { affinityGroup: g.affinity } : {}),
      }
    : {};
  return placedVms(
    nodes.map((node, i) => ({
      id: randomUUID(),
      name: `${prefix}-${i}`,
      spec: options.spec ?? { name: `${prefix}-${i}` },
      policy: {},
      requestId,
      vcpus: options.vcpus ?? 1,
      memoryMib,
      diskGib: options.diskGib ?? 0,
      node,
      placement: null,
      project: options.project ?? "default",
      ...membership,
    })),
  );
}

/** One request placing exactly `vms` (all of one request, the first's), each claiming its size on its node. */
export function placedVms(vms: NewVm[]): PlacedRequests {
  return {
    requests: [{ id: vms[0]!.requestId!, requestHash: "h", vmIds: vms.map((v) => v.id), unplaced: 0, unplacedReason: "" }],
    claims: vms.map((v) => ({ node: v.node, vcpus: v.vcpus, memoryMib: v.memoryMib, diskGib: v.diskGib })),
    vms,
  };
}

/** Several placed requests as one commitPlacements input, as the create batcher commits them in one statement. */
export function together(placed: PlacedRequests[]): PlacedRequests {
  return {
    requests: placed.flatMap((p) => p.requests),
    claims: placed.flatMap((p) => p.claims),
    vms: placed.flatMap((p) => p.vms),
    ...(placed.some((p) => p.audit) ? { audit: placed.flatMap((p) => p.audit ?? []) } : {}),
  };
}

/**
 * Sessions on `sql`'s database left inside a transaction with no statement running (pg_stat_activity
 * "idle in transaction"), other than `sql`'s own: what a transaction left open on a pooled connection shows as.
 */
export async function idleInTransaction(sql: Sql): Promise<{ pid: number; query: string }[]> {
  return sql<{ pid: number; query: string }[]>`
    SELECT pid, query FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'`;
}
