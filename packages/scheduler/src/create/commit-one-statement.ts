import type { CreateVmsResponse } from "@drover/proto";
import { commitPlacementsWithNodes, type CommittedPlacements } from "@drover/store";
import type { ValidCreate } from "../api/validation.js";
import type { AuditSlot } from "../auth/guard.js";
import { createdResponse, requestRow, vmRows, type CreateDeps, type PlannedVm } from "./plan.js";
import { placeAndCommit } from "./reserved-commit.js";
import { dispatchVms, holdSlots } from "./held-dispatch.js";

/**
 * Commits a request without an idempotency key, the common case: placed on the cached view
 * (with its groups' members, if it names groups) and counted into it at once, so concurrent
 * requests see the room taken; then the request row, claims, VMs, events and group members in
 * one autocommit statement (commitPlacements), which checks the groups too. A refused claim or
 * group check aborts the statement whole and surfaces as ClaimConflictError (GroupConflictError) for the caller to retry;
 * so does a passed deadline, as DeadlineExceededError (commitPlacements checks it last).
 * The call's audit event goes in the same statement, so it commits exactly when the VMs do.
 * When the local dispatcher has slots for all its VMs (held before the statement, given back if it
 * fails), they commit PROVISIONING, leased to this replica, and are dispatched at once.
 */
export async function commitInOneStatement(
  deps: CreateDeps,
  planned: PlannedVm[],
  req: ValidCreate,
  hash: string,
  deadline = Infinity,
  audit?: AuditSlot,
): Promise<CreateVmsResponse> {
  return placeAndCommit(deps, planned, req, hash, async (plan) => {
    const slots = holdSlots(deps, plan);
    let committed: CommittedPlacements;
    try {
      committed = await commitPlacementsWithNodes(deps.sql, {
        requests: [requestRow(plan, hash, null)],
        claims: plan.claims,
        vms: vmRows(plan, req, slots?.leaseMs),
        ...(audit ? { audit: [audit.entry] } : {}),
      }, deadline);
    } catch (err) {
      slots?.release();
      throw err;
    }
    if (audit) audit.written = true;
    slots?.start(dispatchVms(plan, req, committed.addresses));
    return createdResponse(plan, req, committed.createdAt, slots !== null);
  });
}
