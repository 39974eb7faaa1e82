import type { CreateVmsResponse } from "@drover/proto";
import { claimQuota, claimResources, DeadlineExceededError, insertRequest, insertScheduledVms, remainingMs, setLocalStatementTimeout, transaction } from "@drover/store";
import type { ValidCreate } from "../api/validation.js";
import { createdResponse, requestRow, storedKey, vmRows, type CreateDeps, type PlannedVm } from "./plan.js";
import { placeAndCommit } from "./reserved-commit.js";
import { dispatchVms, holdSlots } from "./held-dispatch.js";

/** Another request with the same idempotency key committed first. */
export class IdempotentReplay extends Error {}

/**
 * Commits a request with an idempotency key in a transaction: the request row first (its key
 * is unique, so a concurrent twin stops there with IdempotentReplay), then the claims and the
 * project's quota, then the VM rows with their events and group members (the groups checked in
 * that statement). The request is placed on the cached view, with its groups' members, before
 * the transaction takes a connection (the embedded database has only one). When the local
 * dispatcher has slots for all its VMs (held before the transaction, given back if it fails or
 * replays a twin), they commit PROVISIONING, leased to this replica, and are dispatched at once.
 */
export async function commitInTransaction(
  deps: CreateDeps,
  planned: PlannedVm[],
  req: ValidCreate,
  hash: string,
  deadline = Infinity,
): Promise<CreateVmsResponse> {
  try {
    return await placeAndCommit(deps, planned, req, hash, async (plan) => {
      const slots = holdSlots(deps, plan);
      let addresses = new Map<string, string>();
      let created;
      try {
        created = await transaction(deps.sql, async (tx) => {
          // No statement (a lock wait, say) may outlast the client's deadline...
          if (Number.isFinite(deadline)) await setLocalStatementTimeout(tx, deadline);
          const stored = await insertRequest(tx, requestRow(plan, hash, storedKey(req) || null));
          if (!stored) throw new IdempotentReplay();
          addresses = await claimResources(tx, plan.claims);
          await claimQuota(tx, [projectUse(req.project, plan.claims)]);
          const createdAt = await insertScheduledVms(tx, req.policy.groups, vmRows(plan, req, slots?.leaseMs));
          // ...and no COMMIT is sent after it: throwing here rolls the transaction back.
          remainingMs(deadline);
          return createdResponse(plan, req, createdAt, slots !== null);
        });
      } catch (err) {
        slots?.release();
        throw err;
      }
      slots?.start(dispatchVms(plan, req, addresses));
      return created;
    });
  } catch (err) {
    // 57014: the statement_timeout set from the deadline cancelled a statement.
    if ((err as { code?: string }).code === "57014" && deadline <= Date.now()) throw new DeadlineExceededError({ cause: err });
    throw err;
  }
}

/** What a plan's VMs add to their project. */
function projectUse(project: string, claims: { vcpus: number; memoryMib: number; diskGib: number }[]) {
  const use = { project, vcpus: 0, memoryMib: 0, diskGib: 0, vms: claims.length };
  for (const c of claims) {
    use.vcpus += c.vcpus;
    use.memoryMib += c.memoryMib;
    use.diskGib += c.diskGib;
  }
  return use;
}
