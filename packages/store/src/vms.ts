import type postgres from "postgres";
import type { Db } from "./db.js";
import { INSERT_FAN_OUT_VM_EVENTS, INSERT_VM_EVENTS } from "./event-sql.js";
import type { Vm, VmStateName } from "./domain.js";
import { asGroupConflict, groupAddParts, sumGroupMembers, type GroupMember } from "./groups.js";
import { unnamedSpec, vmFromRow, type VmRow } from "./rows.js";
import { plainArrayLiteral, textArrayLiteral } from "./array-literal.js";

export interface NewVm {
  id: string;
  name: string;
  /**
   * The spec as JSON; its `name` is the row's name (`name`: the row stores the spec without it and
   * reads it back with it), so the VMs of one template can share one spec object: each distinct
   * object (and policy) goes to Postgres once, and every row of it stores the same jsonb.
   */
  spec: unknown;
  policy: unknown;
  requestId: string | null;
  vcpus: number;
  memoryMib: number;
  diskGib: number;
  node: string;
  placement: unknown;
  project: string;
  /** The (anti-)affinity groups the VM belongs to (all it names); none when unset. */
  groups?: string[];
  /** Its hard anti-affinity group, checked in the insert's statement (groups.ts). */
  antiAffinityGroup?: string;
  /** Its hard affinity group, checked in the insert's statement (groups.ts). */
  affinityGroup?: string;
  /**
   * Set: the VM is committed PROVISIONING (its first attempt), leased this long to the creating
   * replica's dispatcher, which has a slot held for it (a single create, dispatch/dispatcher.ts);
   * unset: SCHEDULED, for a dispatch pass to take (takeDueProvisioning).
   */
  leaseMs?: number;
}

/** The group memberships of new VMs, for groups.ts. */
export function groupMembersOf(vms: readonly NewVm[], groups: readonly string[] = []): GroupMember[] {
  const out: GroupMember[] = [];
  for (const v of vms) {
    const g = v.groups ?? groups;
    if (g.length > 0) out.push({ node: v.node, groups: g, antiAffinityGroup: v.antiAffinityGroup, affinityGroup: v.affinityGroup });
  }
  return out;
}

/**
 * The INSERT of placed VMs as SCHEDULED (or, with `leaseMs`, PROVISIONING under a lease) with
 * their claim held, returning what an outbox event needs: a fragment for a statement that also
 * writes the events and claims. `groups` are the (anti-)affinity groups of the VMs
 * that name none of their own (`NewVm.groups`). Group names cannot hold a
 * space (validation.ts), so a VM's groups travel as one space-separated text.
 *
 * What VMs share (spec and policy objects, request, project, groups, sizes) goes once per
 * distinct combination, a "kind"; per VM only its id, name, node, kind and placement (the
 * placements as one JSON document, zipped back by ROWS FROM). For 10,000 VMs of one request
 * that is ~2 MB of parameters instead of ~8 MB, and no per-element escaping. Nothing is built
 * per row: the spec is the kind's jsonb as it is (the name is the name column's) and the
 * explanation json text (migration 042), since building a jsonb for each row was ~1/4 of the
 * rows' insert (docs/benchmarks.md, "Per-row JSON in the VM insert").
 */
export function scheduledVmsInsert(db: Db, groups: string[], vms: NewVm[]) {
  const { kinds, kindOf } = kindsOf(groups, vms);
  // Kinds joined by number (a hash join): never an array subscript per row, which is linear in the array for text.
  return db`
    INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, groups, node, claimed, state, attempts, lease_until, explanation, request_id, project)
    SELECT t.id, t.name, k.spec, k.policy, k.vcpus, k.memory_mib, k.disk_gib,
      string_to_array(k.groups, ' '), t.node, true,
      CASE WHEN k.lease_ms IS NULL THEN 'SCHEDULED' ELSE 'PROVISIONING' END, CASE WHEN k.lease_ms IS NULL THEN 0 ELSE 1 END,
      now() + make_interval(secs => k.lease_ms / 1000.0), t.placement, k.request_id, k.project
    FROM ROWS FROM (
        jsonb_array_elements(${JSON.stringify(kinds.map((k) => unnamedSpec(k.spec)))}::text::jsonb),
        jsonb_array_elements(${JSON.stringify(kinds.map((k) => k.policy ?? null))}::text::jsonb),
        unnest(${plainArrayLiteral(kinds.map((k) => k.vcpus))}::text::int[], ${plainArrayLiteral(kinds.map((k) => k.memoryMib))}::text::bigint[],
          ${plainArrayLiteral(kinds.map((k) => k.diskGib))}::text::bigint[], ${textArrayLiteral(kinds.map((k) => k.groups))}::text::text[],
          ${textArrayLiteral(kinds.map((k) => k.requestId))}::text::uuid[], ${textArrayLiteral(kinds.map((k) => k.project))}::text::text[],
          ${textArrayLiteral(kinds.map((k) => (k.leaseMs === null ? null : String(k.leaseMs))))}::text::int8[])
      ) WITH ORDINALITY AS k(spec, policy, vcpus, memory_mib, disk_gib, groups, request_id, project, lease_ms, kind)
      JOIN ROWS FROM (
        unnest(${plainArrayLiteral(vms.map((v) => v.id))}::text::uuid[], ${textArrayLiteral(vms.map((v) => v.name))}::text::text[],
          ${textArrayLiteral(vms.map((v) => v.node))}::text::text[], ${plainArrayLiteral(kindOf)}::text::int8[]),
        json_array_elements(${JSON.stringify(vms.map((v) => v.placement ?? null))}::text::json)
      ) AS t(id, name, node, kind, placement) ON t.kind = k.kind
    RETURNING id, node, state, reason, project`;
}

interface VmKind {
  spec: unknown;
  policy: unknown;
  requestId: string | null;
  project: string;
  /** Space-separated, as the row's groups travel. */
  groups: string;
  /** The array it was joined from (the same array object usually comes with every VM of a request). */
  groupList: readonly string[];
  vcpus: number;
  memoryMib: number;
  diskGib: number;
  /** NewVm.leaseMs, null for none. */
  leaseMs: number | null;
}

/** The distinct kinds of `vms` (what they share), and each VM's kind, 1-based. */
function kindsOf(groups: string[], vms: NewVm[]): { kinds: VmKind[]; kindOf: number[] } {
  const objectIds = new Map<unknown, number>();
  const idOf = (o: unknown) => {
    let id = objectIds.get(o);
    if (id === undefined) objectIds.set(o, (id = objectIds.size));
    return id;
  };
  const byKey = new Map<string, number>();
  const kinds: VmKind[] = [];
  const kindOf = new Array<number>(vms.length);
  let last: VmKind | undefined;
  for (let i = 0; i < vms.length; i++) {
    const v = vms[i]!;
    const g = v.groups ?? groups;
    // A bulk's VMs come in runs of one kind: compare with the previous VM's before building a key.
    if (last !== undefined && sameKind(last, v, g)) {
      kindOf[i] = kindOf[i - 1]!;
      continue;
    }
    const joined = g.join(" ");
    const leaseMs = v.leaseMs ?? null;
    const key = `${idOf(v.spec)} ${idOf(v.policy)} ${v.requestId} ${v.vcpus} ${v.memoryMib} ${v.diskGib} ${joined} ${v.project} ${leaseMs}`;
    let kind = byKey.get(key);
    if (kind === undefined) {
      kinds.push({ spec: v.spec, policy: v.policy, requestId: v.requestId, project: v.project, groups: joined, groupList: g, vcpus: v.vcpus, memoryMib: v.memoryMib, diskGib: v.diskGib, leaseMs });
      byKey.set(key, (kind = kinds.length));
    }
    kindOf[i] = kind;
    last = kinds[kind - 1];
  }
  return { kinds, kindOf };
}

function sameKind(k: VmKind, v: NewVm, groups: string[]): boolean {
  return (
    k.spec === v.spec && k.policy === v.policy && k.requestId === v.requestId && k.project === v.project &&
    k.vcpus === v.vcpus && k.memoryMib === v.memoryMib && k.diskGib === v.diskGib && k.leaseMs === (v.leaseMs ?? null) &&
    (k.groupList === groups || k.groups === groups.join(" "))
  );
}

/**
 * Inserts placed VMs as SCHEDULED (PROVISIONING with NewVm.leaseMs) with their claim held (call claimResources
 * and claimQuota in the same transaction), each with its outbox event, and
 * adds them to their groups with the groups' checks (groups.ts), in one
 * statement. Throws GroupConflictError when a group check refuses.
 * Returns the creation time the rows got (the transaction's now()).
 */
export async function insertScheduledVms(db: Db, groups: string[], vms: NewVm[]): Promise<Date> {
  const { ctes, checks } = groupAddParts(db, sumGroupMembers(groupMembersOf(vms, groups)));
  try {
    const [row] = await db<{ created_at: Date }[]>`
      WITH v AS (${scheduledVmsInsert(db, groups, vms)}),
      e AS (${db.unsafe(INSERT_FAN_OUT_VM_EVENTS)}) ${ctes}
      SELECT now() AS created_at ${checks}`;
    return row!.created_at;
  } catch (err) {
    throw asGroupConflict(err) ?? err;
  }
}

/**
 * Runs an UPDATE of vms (given without RETURNING) and, in the same statement,
 * writes an outbox event for every row it changed: no VM state change can
 * happen without its event.
 */
export async function updateVmsWithEvents(db: Db, update: postgres.Fragment): Promise<Vm[]> {
  const rows = await db<VmRow[]>`
    WITH v AS (${update} RETURNING *),
    e AS (${db.unsafe(INSERT_VM_EVENTS)})
    SELECT * FROM v`;
  return rows.map(vmFromRow);
}

export async function getVm(db: Db, id: string): Promise<Vm | null> {
  const [row] = await db<VmRow[]>`SELECT * FROM vms WHERE id = ${id}`;
  return row ? vmFromRow(row) : null;
}

export async function getVms(db: Db, ids: string[]): Promise<Vm[]> {
  const rows = await db<VmRow[]>`SELECT * FROM vms WHERE id = ANY(${ids}::uuid[]) ORDER BY created_at, name, id`;
  return rows.map(vmFromRow);
}

/**
 * A position in ListVms order (created_at, id). The time is microseconds since
 * the epoch as decimal text, exactly what Postgres stores: a JS Date keeps only
 * milliseconds, and a cursor rounded down repeats the rows of its millisecond.
 */
export interface VmCursor {
  createdMicros: string;
  id: string;
}

export interface VmFilter {
  state?: VmStateName;
  /** Only this project's VMs. */
  project?: string;
  node?: string;
  /** Keyset cursor: VMs strictly after it. */
  after?: VmCursor;
  limit: number;
}

/** Up to `limit` VMs in (created_at, id) order, and the cursor after the last one when more follow. */
export async function listVms(db: Db, f: VmFilter): Promise<{ vms: Vm[]; next: VmCursor | null }> {
  const after = f.after;
  const micros = after ? BigInt(after.createdMicros) : null;
  // to_timestamp of whole seconds plus whole microseconds: exact (one float8 of the seconds alone would round).
  const rows = await db<(VmRow & { cursor_micros: string })[]>`
    SELECT *, (extract(epoch FROM created_at) * 1000000)::int8::text AS cursor_micros FROM vms
    WHERE (${f.state ?? null}::text IS NULL OR state = ${f.state ?? null})
      AND (${f.node ?? null}::text IS NULL OR node = ${f.node ?? null})
      AND (${f.project ?? null}::text IS NULL OR project = ${f.project ?? null})
      AND (${after ? 1 : 0} = 0
           OR (created_at, id) > (to_timestamp(${micros === null ? null : String(micros / 1_000_000n)}::int8)
                                   + ${micros === null ? null : String(micros % 1_000_000n)}::int8 * interval '1 microsecond',
                                  ${after?.id ?? null}::uuid))
    ORDER BY created_at, id
    LIMIT ${f.limit + 1}`;
  const page = rows.slice(0, f.limit);
  const last = page[page.length - 1];
  return {
    vms: page.map(vmFromRow),
    next: rows.length > f.limit && last ? { createdMicros: last.cursor_micros, id: last.id } : null,
  };
}

/**
 * Moves a VM from one of `from` to `to`. Returns the updated VM, or null
 * when the VM was not in one of those states (someone else moved it first).
 * `dueAt: "after-dispatch"`: the end of the lease of a VM being dispatched (PROVISIONING), else
 * now; decided on the row the update changes, since a row read before may have left PROVISIONING.
 */
export async function transitionVm(
  db: Db,
  id: string,
  from: readonly VmStateName[],
  to: VmStateName,
  changes: { reason?: string; dueAt?: "now" | "after-dispatch" | Date; reportGeneration?: number; resetCrashes?: boolean } = {},
): Promise<Vm | null> {
  const [row] = await updateVmsWithEvents(
    db,
    db`
      UPDATE vms SET state = ${to}, updated_at = now(), lease_until = NULL,
        reason = coalesce(${changes.reason ?? null}::text, reason),
        crash_count = CASE WHEN ${changes.resetCrashes ? 1 : 0} = 1 THEN 0 ELSE crash_count END,
        crashes_since = CASE WHEN ${changes.resetCrashes ? 1 : 0} = 1 THEN NULL ELSE crashes_since END,
        report_generation = greatest(report_generation, ${changes.reportGeneration ?? 0}::bigint),
        due_at = CASE
          WHEN ${changes.dueAt === "after-dispatch" ? 1 : 0} = 1
            THEN CASE WHEN state = 'PROVISIONING' AND lease_until > now() THEN lease_until ELSE now() END
          WHEN ${changes.dueAt ? 1 : 0} = 1
            THEN coalesce(${changes.dueAt instanceof Date ? changes.dueAt : null}::timestamptz, now())
          ELSE due_at END
      WHERE id = ${id} AND state = ANY(${from as string[]}::text[])`,
  );
  return row ?? null;
}

/** Records the generation of an agent's answer to an operation that left the VM's state as it was (no event). */
export async function recordReportGeneration(db: Db, id: string, generation: number): Promise<void> {
  await db`UPDATE vms SET report_generation = greatest(report_generation, ${generation}::bigint) WHERE id = ${id}`;
}

export interface StateCount {
  node: string | null;
  state: VmStateName;
  count: number;
}

/** VM counts by node and state (DELETED rows are history and are left out). */
export async function countVmsByNodeAndState(db: Db): Promise<StateCount[]> {
  return db<StateCount[]>`
    SELECT node, state, count(*)::int AS count FROM vms WHERE state <> 'DELETED' GROUP BY node, state`;
}

/** Members of the given groups that hold claims, per node and group (cardinality > 0 lets vms_groups_idx serve it). */
export async function groupMembersByNode(
  db: Db,
  groups: string[],
): Promise<{ node: string; group: string; count: number }[]> {
  if (groups.length === 0) return [];
  return db<{ node: string; group: string; count: number }[]>`
    SELECT node, g AS group, count(*)::int AS count
    FROM vms, unnest(groups) AS g
    WHERE claimed AND cardinality(groups) > 0 AND groups && ${groups}::text[] AND g = ANY(${groups}::text[])
    GROUP BY node, g`;
}

/**
 * After a failed dispatch (claim already released): moves the VM to a new
 * node with a fresh claim (call claimResources for it in the same
 * transaction) and queues it again. Only a PROVISIONING VM moves.
 */
export async function rescheduleVm(
  db: Db,
  id: string,
  change: { node: string; placement: unknown; failedNode: string; reason: string },
): Promise<Vm | null> {
  const [row] = await updateVmsWithEvents(
    db,
    db`
      UPDATE vms SET state = 'SCHEDULED', node = ${change.node}, claimed = true, explanation = ${JSON.stringify(change.placement ?? null)}::text::json, placement = NULL,
        failed_nodes = array_append(failed_nodes, ${change.failedNode}::text), reason = ${change.reason},
        due_at = now(), lease_until = NULL, updated_at = now()
      WHERE id = ${id} AND state = 'PROVISIONING'`,
  );
  return row ?? null;
}

/** Gives up on a PROVISIONING VM (claim already released): FAILED with the reason. */
export async function failVm(db: Db, id: string, reason: string, failedNode: string | null): Promise<Vm | null> {
  const [row] = await updateVmsWithEvents(
    db,
    db`
      UPDATE vms SET state = 'FAILED', reason = ${reason}, lease_until = NULL, updated_at = now(),
        failed_nodes = CASE WHEN ${failedNode}::text IS NULL THEN failed_nodes ELSE array_append(failed_nodes, ${failedNode}::text) END
      WHERE id = ${id} AND state = 'PROVISIONING'`,
  );
  return row ?? null;
}

/** Locks a VM row for the rest of the transaction. */
export async function lockVm(db: Db, id: string): Promise<Vm | null> {
  const [row] = await db<VmRow[]>`SELECT * FROM vms WHERE id = ${id} FOR UPDATE`;
  return row ? vmFromRow(row) : null;
}

/** Records the last error seen on a VM without changing its state (no event). */
export async function setVmReason(db: Db, id: string, reason: string): Promise<void> {
  await db`UPDATE vms SET reason = ${reason}, updated_at = now() WHERE id = ${id}`;
}
