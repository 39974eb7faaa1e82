import type { BatchResult } from "@drover/placement";
import type { CreateVmsResponse } from "@drover/proto";
import { claimQuota, claimResources, DeadlineExceededError, insertRequest, insertScheduledVms, lockGroups, remainingMs, type Tx } from "@drover/store";
import type { ValidCreate } from "../api/validation.js";
import type { Reservation } from "./node-cache.js";
import { place, requireMinCount } from "./place.js";
import { createdResponse, materialize, requestRow, storedKey, vmRows, type CreateDeps, type PlannedVm } from "./plan.js";
import { placeOnView } from "./place-on-view.js";
import { takeSnapshot } from "./snapshot.js";

/** Another request with the same idempotency key committed first. */
export class IdempotentReplay extends Error {}

/**
 * Commits a request with an idempotency key or (anti-)affinity groups in a transaction: the
 * request row first (its key is unique, so a concurrent twin stops there with IdempotentReplay),
 * then the claims and the project's quota, then the VM rows with their events. Without groups the request is placed on
 * the cached view before the transaction takes a connection (the embedded database has only
 * one); with groups, inside it, under the groups' locks.
 */
export async function commitInTransaction(
  deps: CreateDeps,
  planned: PlannedVm[],
  req: ValidCreate,
  hash: string,
  deadline = Infinity,
): Promise<CreateVmsResponse> {
  let reservation: Reservation | undefined;
  try {
    let plan = req.policy.groups.length > 0 ? undefined : materialize(await placeOnView(deps, planned, req, hash), planned);
    if (plan) reservation = deps.nodes.reserve(plan.claims);
    const response = await deps.sql.begin(async (tx) => {
      // No statement (a lock wait, say) may outlast the client's deadline...
      await setStatementTimeout(tx, deadline);
      if (!plan) {
        plan = materialize(await placeLocked(deps, tx, planned, req, hash), planned);
        reservation = deps.nodes.reserve(plan.claims);
      }
      const stored = await insertRequest(tx, requestRow(plan, hash, storedKey(req) || null));
      if (!stored) throw new IdempotentReplay();
      await claimResources(tx, plan.claims);
      await claimQuota(tx, [projectUse(req.project, plan.claims)]);
      const created = createdResponse(plan, req, await insertScheduledVms(tx, req.policy.groups, vmRows(plan, req)));
      // ...and no COMMIT is sent after it: throwing here rolls the transaction back.
      remainingMs(deadline);
      return created;
    });
    deps.onScheduled();
    return response;
  } catch (err) {
    reservation?.undo();
    // 57014: the statement_timeout set from the deadline cancelled a statement.
    if ((err as { code?: string }).code === "57014" && deadline <= Date.now()) throw new DeadlineExceededError({ cause: err });
    throw err;
  }
}

/**
 * (Anti-)affinity depends on group members on every node, which no single
 * node's claim can check: lock the groups for the transaction and place on a
 * fresh snapshot that counts their members.
 */
async function placeLocked(deps: CreateDeps, tx: Tx, planned: PlannedVm[], req: ValidCreate, seed: string): Promise<BatchResult> {
  await lockGroups(tx, req.policy.groups);
  return requireMinCount(deps, place(deps, await takeSnapshot(tx, req.policy.groups), planned, req.policy, seed), req);
}

/** `SET LOCAL statement_timeout` to the time left before `deadline`; none without one. */
async function setStatementTimeout(tx: Tx, deadline: number): Promise<void> {
  if (!Number.isFinite(deadline)) return;
  await tx`SELECT set_config('statement_timeout', ${String(Math.ceil(remainingMs(deadline)))}, true)`;
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
