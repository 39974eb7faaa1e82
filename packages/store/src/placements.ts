import type { Db } from "./db.js";
import { claimUpdate, sumClaimsByNode, type Claim } from "./claims.js";
import { ClaimConflictError, DeadlineExceededError, isLockRace, remainingMs } from "./errors.js";
import { quotaExceeded, quotaUpdate, sumUseByProject, type ProjectUse } from "./quota.js";
import { INSERT_FAN_OUT_VM_EVENTS } from "./event-sql.js";
import { requestsInsert, type PlacedRequest } from "./requests.js";
import { auditInsert, type AuditEntry } from "./audit.js";
import { groupMembersOf, scheduledVmsInsert, type NewVm } from "./vms.js";
import { asGroupConflict, groupAddParts, sumGroupMembers } from "./groups.js";

/** Placed create requests, ready to commit. */
export interface PlacedRequests {
  /** Without idempotency keys, but for a chunked bulk's (commitPlacementsInChunks). */
  requests: PlacedRequest[];
  claims: Claim[];
  vms: NewVm[];
  /** The requests' audit events (drover.audit.create_vms), committed with them or not at all. */
  audit?: AuditEntry[];
}

/**
 * Commits placed requests all or nothing in one autocommit statement: their
 * request rows, the claims on their nodes, the VM rows as SCHEDULED (or PROVISIONING, leased:
 * NewVm.leaseMs) and one
 * outbox event per VM (as one fan-out row, event-sql.ts). One round trip instead of three (BEGIN, the writes,
 * COMMIT), which is most of a small batch's latency on a busy machine.
 * A refused claim raises drover_claim_conflict (migration 006), which aborts
 * the statement whole; it surfaces as ClaimConflictError, as does a lost
 * lock race (deadlock, serialization failure). A project's quota is taken in
 * the same statement (quota.ts); a refusal raises drover_quota_exceeded
 * (migration 009), surfacing as QuotaExceededError. VMs with groups join
 * them in the same statement, after the claims, with the groups' checks
 * (groups.ts, migration 019); a refusal surfaces as GroupConflictError. Returns the
 * creation time the rows got.
 *
 * `deadline` (epoch ms, the earliest of the requests' client deadlines) is
 * checked before sending and by the statement as its last step: the time left
 * is measured from when the server received the statement (so the two clocks
 * need not agree), and past it drover_deadline_exceeded (migration 014) aborts
 * the statement whole, surfacing as DeadlineExceededError. A statement held
 * up by a lock or a slow disk thus never lands after its client gave up.
 */
export async function commitPlacements(db: Db, placed: PlacedRequests, deadline = Infinity): Promise<Date> {
  return (await commitPlacementsWithNodes(db, placed, deadline)).createdAt;
}

/** What commitPlacementsWithNodes committed. */
export interface CommittedPlacements {
  createdAt: Date;
  /**
   * The agent address of each node that took a claim, read by the claim itself (the node was READY
   * then), when some VM was committed PROVISIONING (NewVm.leaseMs): its dispatch needs no read of its own.
   */
  addresses: ReadonlyMap<string, string>;
}

/** commitPlacements, with the claimed nodes' addresses when some VM is leased for dispatch. */
export async function commitPlacementsWithNodes(db: Db, placed: PlacedRequests, deadline = Infinity): Promise<CommittedPlacements> {
  const statement = placementsStatement(db, placed, deadline);
  try {
    const [row] = await statement.query;
    return { createdAt: row!.created_at, addresses: new Map(Object.entries(row!.addresses ?? {})) };
  } catch (err) {
    throw await asCommitError(db, err, statement);
  }
}

/**
 * The one statement of commitPlacements, not yet sent, with what its refusals are mapped by.
 * `uses`: the quota it takes, if not that of `placed.vms` (a chunked commit's last statement takes every chunk's).
 */
export function placementsStatement(db: Db, placed: PlacedRequests, deadline = Infinity, uses = projectUseOf(placed.vms)) {
  const sums = sumClaimsByNode(placed.claims);
  const leftMs = remainingMs(deadline);
  // Infinity does not go over the wire; a day stands for "no deadline".
  const budgetMs = Number.isFinite(leftMs) ? leftMs : 86_400_000;
  const { ctes, checks } = groupAddParts(db, sumGroupMembers(groupMembersOf(placed.vms)));
  const leased = placed.vms.some((v) => v.leaseMs !== undefined);
  // The data-modifying CTEs all run to completion; CASE makes the check run only on a refusal.
  const query = db<{ created_at: Date; addresses: Record<string, string> | null }[]>`
      WITH r AS (${requestsInsert(db, placed.requests)}),
      c AS (${claimUpdate(db, sums)}),
      q AS (${quotaUpdate(db, uses, true)}), -- reads c first: nodes are locked before projects
      v AS (${scheduledVmsInsert(db, [], placed.vms)}),
      e AS (${db.unsafe(INSERT_FAN_OUT_VM_EVENTS)}) ${ctes} ${placed.audit?.length ? db`, a AS (${auditInsert(db, placed.audit)})` : db``}
      SELECT now() AS created_at, ${leased ? db`(SELECT json_object_agg(name, address) FROM c)` : db`NULL::json`} AS addresses,
        CASE WHEN (SELECT count(*) FROM q) <> ${uses.length}
            THEN drover_quota_exceeded((SELECT min(x) FROM (SELECT unnest(${uses.map((u) => u.project)}::text[]) EXCEPT SELECT name FROM q) AS m(x)))
          WHEN (SELECT count(*) FROM c) = ${sums.length} THEN true
          ELSE drover_claim_conflict(ARRAY(SELECT unnest(${sums.map((s) => s.node)}::text[]) EXCEPT SELECT name FROM c))
        END AS claimed ${checks},
        -- Last, after the VM rows (counting v makes them go first): the client's deadline.
        CASE WHEN (SELECT count(*) FROM v) >= 0 AND clock_timestamp() < statement_timestamp() + make_interval(secs => ${budgetMs / 1000}) THEN true
          ELSE drover_deadline_exceeded(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000 - ${budgetMs})
        END AS in_time`;
  return { query, sums, uses };
}

/** What VM rows add to their projects, summed per project. */
export function projectUseOf(vms: NewVm[]): ProjectUse[] {
  return sumUseByProject(vms.map((v) => ({ project: v.project, vcpus: v.vcpus, memoryMib: v.memoryMib, diskGib: v.diskGib, vms: 1 })));
}

/**
 * The store's error for a refused placements statement (its claims, quota, groups or deadline, or a
 * lost lock race); any other error as it is. `db` must be usable: not a transaction the refusal aborted.
 */
export async function asCommitError(db: Db, err: unknown, { sums, uses }: { sums: Claim[]; uses: ProjectUse[] }): Promise<unknown> {
  const e = err as { code?: string; detail?: string };
  const group = asGroupConflict(err);
  if (group) return group;
  if (e.code === "DR001") return new ClaimConflictError((e.detail ?? "").split(",").filter(Boolean), { cause: err });
  if (e.code === "DR003") return await quotaExceeded(db, uses.find((u) => u.project === e.detail) ?? uses[0]!, { cause: err });
  if (isLockRace(err)) return new ClaimConflictError(sums.map((s) => s.node), { cause: err, lockRace: true });
  if (e.code === "DR002") return new DeadlineExceededError({ cause: err });
  return err;
}
