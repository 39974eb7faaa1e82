import {
  claimResources,
  asStoreError,
  ClaimConflictError,
  failVm,
  lockGroups,
  lockVm,
  releaseClaim,
  rescheduleVm,
  type DispatchVm,
  type Sql,
  type Tx,
} from "@drover/store";
import type { SchedulerConfig } from "../config.js";
import { placeAgain } from "../create/place-again.js";
import type { PlaceDeps } from "../create/place.js";
import { explanation } from "../create/vm-request.js";

export interface RetryDeps extends PlaceDeps {
  sql: Sql;
  config: Pick<SchedulerConfig, "claimRetries" | "dispatchAttempts" | "defaultStrategy">;
  log(message: string): void;
}

/**
 * After a failed dispatch: releases the failed node's claim and places the VM on another node
 * (one not yet tried), in one transaction; after the last attempt, or when no node fits, the VM
 * is FAILED with the reason. A claim conflict places it again, up to claimRetries times.
 */
export async function retryElsewhere(deps: RetryDeps, vm: DispatchVm, reason: string): Promise<void> {
  deps.log(`dispatch of ${vm.id} to ${vm.node} failed (attempt ${vm.attempts}): ${reason}`);
  for (let attempt = 0; attempt <= deps.config.claimRetries; attempt++) {
    try {
      await deps.sql.begin((tx) => moveOrFail(deps, tx, vm, reason));
      return;
    } catch (err) {
      // A deadlock between the release on one node and the claim on another is a conflict too.
      if (!(asStoreError(err) instanceof ClaimConflictError)) throw err;
      deps.metrics.claimConflicts.inc();
    }
  }
}

/** retryElsewhere's transaction: the VM goes to another node, or FAILED when none is left or it ran out of attempts. */
async function moveOrFail(deps: RetryDeps, tx: Tx, vm: DispatchVm, reason: string): Promise<void> {
  await lockGroups(tx, vm.groups);
  const current = await lockVm(tx, vm.id);
  if (current?.state !== "PROVISIONING") return; // deleted or taken over meanwhile
  await releaseClaim(tx, vm.id);
  const tried = [...current.failedNodes, vm.node ?? ""];
  if (current.attempts >= deps.config.dispatchAttempts) {
    await failVm(tx, vm.id, `gave up after ${current.attempts} attempts; last: ${reason}`, vm.node);
    return;
  }
  const resources = { vcpus: vm.vcpus, memoryMib: vm.memoryMib, diskGib: vm.diskGib };
  const result = await placeAgain(deps, deps.config.defaultStrategy, tx, {
    id: vm.id,
    resources,
    policy: current.policy,
    groups: current.groups,
    exclude: tried,
    attempts: current.attempts,
  });
  const p = result.placements[0];
  if (!p) {
    const why = result.unplaced[0]?.message ?? "no other node";
    await failVm(tx, vm.id, `${reason}; no other node can take it: ${why}`, vm.node);
    return;
  }
  await claimResources(tx, [{ node: p.node, ...resources }]);
  await rescheduleVm(tx, vm.id, { node: p.node, placement: explanation(p), failedNode: vm.node ?? "", reason });
}
