import type postgres from "postgres";
import type { Db } from "./db.js";
import type { NodeStateName, Vm, VmInterface } from "./domain.js";
import { INSERT_FAN_OUT_VM_EVENTS } from "./event-sql.js";
import { asManyAsReported } from "./report-rows.js";
import { namedSpec, type VmRow } from "./rows.js";
import { NODE_VM_CHANGES } from "./vm-changes.js";
import { updateVmsWithEvents } from "./vms.js";

/**
 * What the dispatcher needs of a VM it takes (not the whole row: fewer JSON columns to parse), with
 * its node's agent address and state read in the same statement (null when the node is gone), so a
 * dispatch costs no extra query per VM.
 */
export type DispatchVm = Pick<Vm, "id" | "node" | "spec" | "attempts" | "groups" | "vcpus" | "memoryMib" | "diskGib"> & {
  nodeAddress: string | null;
  nodeState: NodeStateName | null;
};

type DispatchRow = Pick<VmRow, "id" | "name" | "node" | "spec" | "attempts" | "groups" | "vcpus" | "memory_mib" | "disk_gib"> & {
  node_address: string | null;
  node_state: NodeStateName | null;
};

/**
 * Puts a PROVISIONING VM whose node is DOWN or DEGRADED back in the queue, due in `retryMs`, with
 * its claim and without spending an attempt, unless it has waited `waitMs` already. True when it
 * waits; false when its time is up (or it is no longer PROVISIONING).
 */
export async function waitForNode(db: Db, id: string, reason: string, retryMs: number, waitMs: number): Promise<boolean> {
  const rows = await updateVmsWithEvents(
    db,
    db`
      UPDATE vms SET state = 'SCHEDULED', attempts = greatest(attempts - 1, 0), reason = ${reason},
        due_at = now() + make_interval(secs => ${retryMs / 1000}), lease_until = NULL, updated_at = now(),
        wait_since = coalesce(wait_since, now())
      WHERE id = ${id} AND state = 'PROVISIONING'
        AND (wait_since IS NULL OR wait_since > now() - make_interval(secs => ${waitMs / 1000}))`,
  );
  return rows.length > 0;
}

/** The dispatch projection of a vms row (DISPATCH_COLUMNS); the whole rows go through vmFromRow. */
function dispatchVmFromRow(r: DispatchRow): DispatchVm {
  return {
    id: r.id,
    node: r.node,
    spec: namedSpec(r.spec, r.name),
    attempts: r.attempts,
    groups: r.groups,
    vcpus: r.vcpus,
    memoryMib: r.memory_mib,
    diskGib: r.disk_gib,
    nodeAddress: r.node_address,
    nodeState: r.node_state,
  };
}

const DISPATCH_COLUMNS = `v.id, v.name, v.node, v.spec, v.attempts, v.groups, v.vcpus, v.memory_mib, v.disk_gib,
  n.address AS node_address, n.state AS node_state`;

/** How many of a node's VMs this replica is dispatching now (nodes not listed: none). */
export type InFlightByNode = ReadonlyMap<string, number>;

/**
 * Takes up to `limit` SCHEDULED VMs that are due, oldest first, and moves
 * them to PROVISIONING under a lease, with at most `perNode` in flight per
 * node counting `inFlight` (like Nova's max_concurrent_builds: a bulk packed
 * onto a few hosts must not start hundreds of domains on one of them at
 * once). Only the oldest `scanLimit` due VMs are considered (read in
 * vms_state_idx order, no sort), so a pass stays cheap with a long queue.
 * VMs due at the same time (one bulk) are taken round-robin across their
 * nodes. SKIP LOCKED lets several scheduler replicas share the queue
 * without taking the same VM twice.
 */
export async function takeDueProvisioning(
  db: Db,
  limit: number,
  leaseMs: number,
  perNode = limit,
  inFlight: InFlightByNode = new Map(),
  scanLimit = limit * 4,
): Promise<DispatchVm[]> {
  const rows = await db<DispatchRow[]>`
    WITH head AS (
      SELECT id, node, due_at, row_number() OVER (PARTITION BY node ORDER BY due_at, id) AS nth
      FROM (
        SELECT id, node, due_at FROM vms WHERE state = 'SCHEDULED' AND due_at <= now()
        ORDER BY due_at LIMIT ${scanLimit}
      ) oldest
    ), busy AS (
      SELECT * FROM unnest(${[...inFlight.keys()]}::text[], ${[...inFlight.values()]}::int[]) AS b(node, n)
    ), pick AS (
      SELECT h.id FROM head h LEFT JOIN busy b ON b.node = h.node
      WHERE h.nth <= ${perNode} - coalesce(b.n, 0)
      ORDER BY h.due_at, h.nth LIMIT ${limit}
    ), due AS (
      -- Locked here, not above (window functions cannot lock); a VM another replica took meanwhile is skipped.
      SELECT id FROM vms WHERE id IN (SELECT id FROM pick) AND state = 'SCHEDULED' FOR UPDATE SKIP LOCKED
    ), v AS (
      UPDATE vms SET state = 'PROVISIONING', attempts = attempts + 1, updated_at = now(),
        lease_until = now() + make_interval(secs => ${leaseMs / 1000})
      FROM due WHERE vms.id = due.id
      RETURNING vms.id, vms.name, vms.node, vms.spec, vms.attempts, vms.groups, vms.vcpus, vms.memory_mib, vms.disk_gib,
        vms.state, vms.reason, vms.project
    ), e AS (
      ${db.unsafe(INSERT_FAN_OUT_VM_EVENTS)}
    )
    SELECT ${db.unsafe(DISPATCH_COLUMNS)} FROM v LEFT JOIN nodes n ON n.name = v.node`;
  return rows.map(dispatchVmFromRow);
}

/** Takes up to `limit` due DELETING VMs under a lease (their state does not change). */
export async function takeDueDeletions(db: Db, limit: number, leaseMs: number): Promise<DispatchVm[]> {
  const rows = await db<DispatchRow[]>`
    WITH due AS (
      SELECT id FROM vms WHERE state = 'DELETING' AND due_at <= now()
      ORDER BY due_at LIMIT ${limit} FOR UPDATE SKIP LOCKED
    ), v AS (
      UPDATE vms SET due_at = now() + make_interval(secs => ${leaseMs / 1000}),
        lease_until = now() + make_interval(secs => ${leaseMs / 1000}), updated_at = now()
      FROM due WHERE vms.id = due.id
      RETURNING vms.id, vms.name, vms.node, vms.spec, vms.attempts, vms.groups, vms.vcpus, vms.memory_mib, vms.disk_gib
    )
    SELECT ${db.unsafe(DISPATCH_COLUMNS)} FROM v LEFT JOIN nodes n ON n.name = v.node`;
  return rows.map(dispatchVmFromRow);
}

/**
 * A PROVISIONING VM whose lease ran out was held by a scheduler that died or
 * hung: put it back in the queue (EnsureDomain is idempotent, so a retry is safe).
 */
export async function requeueExpiredLeases(db: Db): Promise<Vm[]> {
  return updateVmsWithEvents(
    db,
    db`
      UPDATE vms SET state = 'SCHEDULED', due_at = now(), lease_until = NULL, updated_at = now()
      WHERE state = 'PROVISIONING' AND lease_until < now()`,
  );
}

/** The VMs that ran on nodes that went DOWN are LOST (their claims stay until deleted), remembering whether they ran. */
export async function markVmsLost(db: Db, nodes: string[]): Promise<Vm[]> {
  if (nodes.length === 0) return [];
  return updateVmsWithEvents(
    db,
    db`
      UPDATE vms SET state = 'LOST', reason = 'node ' || node || ' stopped sending heartbeats', updated_at = now(),
        state_before_lost = CASE WHEN state IN ('STOPPED', 'STOPPING') THEN 'STOPPED' ELSE 'RUNNING' END
      WHERE node = ANY(${nodes}::text[]) AND state IN ('RUNNING', 'STOPPED', 'STOPPING', 'PAUSED', 'CRASHED')`,
  );
}

/** A VM's NICs as a node reported them. */
export interface NodeInterfaceReport {
  node: string;
  vmId: string;
  interfaces: VmInterface[];
}

/** The CTE nics (node, id, interfaces) of nodes' NIC reports: recordVmInterfaces writes them, reconcileNeeds compares. */
export function interfaceReports(db: Db, reports: NodeInterfaceReport[]) {
  return db`
    nics AS (
      SELECT node, id, interfaces::jsonb AS interfaces
      FROM unnest(${reports.map((r) => r.node)}::text[], ${reports.map((r) => r.vmId)}::text[], ${reports.map((r) => JSON.stringify(r.interfaces))}::text[])
        AS t(node, id, interfaces)
      ${asManyAsReported(db, reports)}
    )`;
}

/** A vms row of the reporting node whose NICs differ from its report in nics. */
export function interfacesChanged(db: Db) {
  return db`vms.id::text = nics.id AND vms.node = nics.node AND vms.state NOT IN ('DELETED', 'DELETING')
        AND vms.interfaces IS DISTINCT FROM nics.interfaces`;
}

/**
 * Stores the NICs a node reports for its VMs, and for each VM whose addresses changed writes a
 * drover.vm.address_changed event (reason: the addresses now, e.g. "52:54:00:12:34:56 192.168.213.57/24"),
 * in one statement. VMs on another node, deleted or unknown are left alone.
 */
export async function recordVmInterfaces(db: Db, node: string, reports: { vmId: string; interfaces: VmInterface[] }[]): Promise<number> {
  if (reports.length === 0) return 0;
  const rows = await db<{ id: string }[]>`
    WITH ${interfaceReports(db, reports.map((r) => ({ node, vmId: r.vmId, interfaces: r.interfaces })))}, v AS (
      UPDATE vms SET interfaces = nics.interfaces, updated_at = now()
      FROM nics
      WHERE ${interfacesChanged(db)}
      RETURNING vms.*
    ), e AS (
      INSERT INTO outbox (subject, payload)
      SELECT 'drover.vm.address_changed', jsonb_build_object(
        'subject', 'drover.vm.address_changed',
        'type', 'vm.address_changed',
        'vmId', v.id,
        'node', coalesce(v.node, ''),
        'vmState', 'VM_STATE_' || v.state,
        'reason', coalesce((SELECT string_agg((i->>'mac') || ' ' || coalesce((SELECT string_agg(a, ' ') FROM jsonb_array_elements_text(i->'addresses') a), ''), ', ')
          FROM jsonb_array_elements(v.interfaces) i), 'no address'),
        'time', to_jsonb(now()))
      FROM v
    )
    SELECT id FROM v`;
  return rows.length;
}

/**
 * Moves the VMs that are still PROVISIONING to RUNNING, in one statement (a delete that came in
 * meanwhile wins), with the generation of the agent's answer: reports taken before it are stale.
 * Returns the ids of those found DELETING: deleted during their dispatch, their deletion is the
 * dispatcher's to finish now (it is due only when the dispatch lease would have run out).
 */
export async function markRunning(db: Db, started: { id: string; generation: number }[]): Promise<string[]> {
  return (await markRunningCounted(db, started)).deleting;
}

/** A VM markRunningCounted moved to RUNNING: the generation it was marked with, and its NICs as its row has them. */
export interface MarkedVm {
  id: string;
  generation: number;
  interfaces: VmInterface[];
}

/**
 * What one markRunningCounted statement did on one node: the VMs it marked, and the node's VM
 * change count (vm-changes.ts) as that statement's snapshot had it, before its own changes, which
 * add one each (migration 035: PROVISIONING to RUNNING counts).
 */
export interface MarkedOnNode {
  node: string;
  countBefore: string;
  vms: MarkedVm[];
}

/**
 * markRunning, also saying what it marked on each node (the heartbeat fast path after a replica's
 * own RUNNING mark: liveness/report-memo.ts). The count is read in the update's statement, whose
 * snapshot holds neither its own change rows (its triggers append them after it) nor any commit
 * after it began. Run it outside a transaction: its caller takes its answer as committed.
 */
export async function markRunningCounted(db: Db, started: { id: string; generation: number }[]): Promise<{ deleting: string[]; marked: MarkedOnNode[] }> {
  if (started.length === 0) return { deleting: [], marked: [] };
  const rows = await db<{ id: string; node: string | null; generation: string; interfaces: VmInterface[]; count_before: string }[]>`
    WITH s AS (
      SELECT * FROM unnest(${started.map((s) => s.id)}::uuid[], ${started.map((s) => s.generation)}::bigint[]) AS s(id, generation)
    ), v AS (
      UPDATE vms SET state = 'RUNNING', lease_until = NULL, updated_at = now(), wait_since = NULL,
        report_generation = greatest(vms.report_generation, s.generation)
      FROM s WHERE vms.id = s.id AND vms.state = 'PROVISIONING'
      RETURNING vms.id, vms.node, vms.state, vms.reason, vms.project, vms.interfaces, s.generation
    ), e AS (
      ${db.unsafe(INSERT_FAN_OUT_VM_EVENTS)}
    )
    SELECT v.id, v.node, v.generation::text AS generation, v.interfaces, ${db.unsafe(NODE_VM_CHANGES)} AS count_before
    FROM v CROSS JOIN LATERAL (SELECT v.node AS name) n`;
  const byNode = new Map<string, MarkedOnNode>();
  for (const r of rows) {
    if (r.node === null) continue;
    let on = byNode.get(r.node);
    if (!on) byNode.set(r.node, (on = { node: r.node, countBefore: r.count_before, vms: [] }));
    on.vms.push({ id: r.id, generation: Number(r.generation), interfaces: r.interfaces });
  }
  const marked = new Set(rows.map((r) => r.id));
  const others = started.map((s) => s.id).filter((id) => !marked.has(id));
  if (others.length === 0) return { deleting: [], marked: [...byNode.values()] };
  // Read in a statement of its own: a delete that committed while the update above waited for its
  // row is not in that statement's snapshot, and the VM would wait for its old lease to run out.
  const deleting = await db<{ id: string }[]>`SELECT id FROM vms WHERE id = ANY(${others}::uuid[]) AND state = 'DELETING'`;
  return { deleting: deleting.map((r) => r.id), marked: [...byNode.values()] };
}

/**
 * Of the VMs whose domains a node reports, those it must destroy: deleted or
 * failed VMs, and VMs that now belong to another node. Unknown ids are left
 * alone: they may belong to another cluster, or a restored database.
 */
export async function strayDomains(db: Db, node: string, vmIds: string[]): Promise<string[]> {
  if (vmIds.length === 0) return [];
  const reported = db`SELECT r.id FROM unnest(${vmIds}::uuid[]) AS r(id) ${asManyAsReported(db, vmIds)}`;
  const rows = await db<{ id: string }[]>`${strayDomainsOf(db, db`${node}`, reported)}`;
  return rows.map((r) => r.id);
}

/** strayDomains' query (id, in id order) for the node `node` names (SQL) and its reported ids `reported` (SQL: a query of them), also a part of reconcileNeeds. */
export function strayDomainsOf(db: Db, node: postgres.Fragment, reported: postgres.Fragment) {
  return db`
    SELECT vms.id FROM vms
    WHERE vms.id IN (${reported})
      AND (vms.state IN ('DELETED', 'FAILED') OR vms.node IS DISTINCT FROM ${node})
    ORDER BY vms.id`;
}
