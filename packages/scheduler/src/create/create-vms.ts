import { VmState, type CreateVmsRequest, type CreateVmsResponse, type Vm } from "@drover/proto";
import { asStoreError, ClaimConflictError, COMMIT_CHUNK_VMS, findRequestByKey, getVms, GroupConflictError } from "@drover/store";
import { vmToProto } from "../api/convert.js";
import { ClaimConflictsExhaustedError, IdempotencyKeyReusedError } from "../errors.js";
import type { ValidCreate } from "../api/validation.js";
import type { AuditSlot } from "../auth/guard.js";
import { commitInChunks } from "./commit-in-chunks.js";
import { commitInOneStatement } from "./commit-one-statement.js";
import { commitInTransaction, IdempotentReplay } from "./commit-in-transaction.js";
import { place } from "./place.js";
import { planVms, requestHash, storedKey, type CreateDeps, type PlannedVm } from "./plan.js";
import { takeSnapshot } from "./snapshot.js";
import { explanation } from "./vm-request.js";

export type { CreateDeps } from "./plan.js";

/**
 * Places and commits one CreateVms request: pure placement, then the claims,
 * VM rows, their events and group members, in one statement (most requests)
 * or in one transaction (with an idempotency key; a bulk of more than COMMIT_CHUNK_VMS
 * VMs without groups, keyed or not, in chunks: commit-in-chunks.ts). A claim conflict (another
 * replica took the room, or Postgres aborted the transaction for a deadlock or
 * serialization failure) retries on a fresh view of the nodes, a group
 * conflict (another replica placed a member first) on a fresh read of the
 * request's groups; after claimRetries, ABORTED.
 * Nothing commits after `deadline` (the client's, epoch ms): the commit
 * refuses with DeadlineExceededError instead. The one-statement commit also writes
 * the call's audit event (`audit`), and so does the chunked one; the transaction path leaves it to the guard.
 */
export async function createVms(deps: CreateDeps, raw: CreateVmsRequest, req: ValidCreate, deadline = Infinity, audit?: AuditSlot): Promise<CreateVmsResponse> {
  const hash = requestHash(raw);
  const planned = planVms(req);
  if (req.dryRun) return simulate(deps, planned, req, hash);
  if (req.idempotencyKey) {
    const replay = await replayByKey(deps, req, hash);
    if (replay) return replay;
  }
  // Most requests (no key) need no transaction of their own: one statement commits them. A bulk
  // without groups, keyed or not, goes in several, so that the scheduler's side and Postgres's overlap.
  const commit =
    req.policy.groups.length === 0 && planned.length > COMMIT_CHUNK_VMS ? commitInChunks : req.idempotencyKey ? commitInTransaction : commitInOneStatement;
  for (let attempt = 0; attempt <= deps.claimRetries; attempt++) {
    try {
      return await commit(deps, planned, req, hash, deadline, audit);
    } catch (err) {
      const e = asStoreError(err);
      if (e instanceof ClaimConflictError) {
        deps.metrics.claimConflicts.inc();
        if (e instanceof GroupConflictError) deps.groups.invalidate(req.policy.groups);
        else deps.nodes.invalidate();
        // A chunked bulk claims before its key is checked: the conflict may be a twin with its key that committed first.
        const replay = req.idempotencyKey ? await replayByKey(deps, req, hash) : null;
        if (replay) return replay;
        continue;
      }
      if (err instanceof IdempotentReplay) return (await replayByKey(deps, req, hash))!;
      throw err;
    }
  }
  throw new ClaimConflictsExhaustedError(deps.claimRetries + 1);
}

/** Where each VM would go against live state, and why; writes nothing. */
async function simulate(deps: CreateDeps, planned: PlannedVm[], req: ValidCreate, seed: string): Promise<CreateVmsResponse> {
  const nodes = req.policy.groups.length > 0 ? await takeSnapshot(deps.sql, req.policy.groups) : await deps.nodes.get(true);
  const result = place(deps, nodes, planned, req.policy, seed);
  const byKey = new Map(planned.map((p) => [p.key, p]));
  const vms: Vm[] = result.placements.map((p) => ({
    id: "",
    spec: { ...byKey.get(p.key)!.spec, userData: "" }, // write-only
    project: req.project,
    node: p.node,
    state: VmState.VM_STATE_PENDING,
    reason: "",
    interfaces: [],
    policy: req.policy.proto,
    placement: explanation(p),
    attempts: 0,
  }));
  return { vms, unplaced: result.unplaced.length, unplacedReason: result.unplaced[0]?.message ?? "", dryRun: true };
}

async function replayByKey(deps: CreateDeps, req: ValidCreate, hash: string): Promise<CreateVmsResponse | null> {
  const prior = await findRequestByKey(deps.sql, storedKey(req));
  if (!prior) return null;
  if (prior.requestHash !== hash) {
    throw new IdempotencyKeyReusedError(req.idempotencyKey);
  }
  const vms = await getVms(deps.sql, prior.vmIds);
  return { vms: vms.map(vmToProto), unplaced: prior.unplaced, unplacedReason: prior.unplacedReason, dryRun: false };
}
