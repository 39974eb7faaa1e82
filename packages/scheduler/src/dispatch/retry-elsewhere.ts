import {
  claimResources,
  asStoreError,
  ClaimConflictError,
  claimGroupMembers,
  failVm,
  lockVm,
  releaseClaim,
  retakeQuota,
  rescheduleVm,
  type DispatchVm,
  type Sql,
  type Tx,
  waitForNode,
  transaction,
} from "@drover/store";
import { PlacementPolicy } from "@drover/proto";
import type { SchedulerConfig } from "../config.js";
import { placeAgain } from "../create/place-again.js";
import type { PlaceDeps } from "../create/place.js";
import { explanation } from "../create/vm-request.js";

export interface RetryDeps extends PlaceDeps {
  sql: Sql;
  config: Pick<SchedulerConfig, "claimRetries" | "dispatchAttempts" | "defaultStrategy" | "dispatchWaitMs" | "heartbeatIntervalMs">;
  log(message: string): void;
}

/** Thrown inside moveOrFail's transaction to roll it back: no other node now, and the VM may wait. */
class NoNodeYet extends Error {}

/**
 * What became of a VM after a failed dispatch: handled (moved, FAILED, waiting, or taken over), or
 * found DELETING (deleted during its dispatch: the caller, which holds its lease, finishes the delete).
 */
export type RetryOutcome = "handled" | "deleting";

/**
 * After a failed dispatch: releases the failed node's claim and places the VM on another node
 * (one not yet tried), in one transaction; after the last attempt, or when no node fits, the VM
 * is FAILED with the reason. A claim conflict places it again, up to claimRetries times.
 */
export async function retryElsewhere(deps: RetryDeps, vm: DispatchVm, reason: string): Promise<RetryOutcome> {
  deps.log(`dispatch of ${vm.id} to ${vm.node} failed (attempt ${vm.attempts}): ${reason}`);
  const outcome = await moveWithRetries(deps, vm, reason, false);
  return outcome === "deleting" ? "deleting" : "handled";
}

/**
 * For a VM whose node is DOWN or DEGRADED (it may come back, so this is no failed attempt): moves it
 * to another node if one fits now; else it waits in the queue, keeping its claim, for its node or
 * another one, for up to dispatchWaitMs in all, and only then is FAILED.
 */
export async function moveOrWait(deps: RetryDeps, vm: DispatchVm, reason: string): Promise<RetryOutcome> {
  const outcome = await moveWithRetries(deps, vm, reason, true);
  if (outcome !== "wait") return outcome;
  const { heartbeatIntervalMs, dispatchWaitMs } = deps.config;
  const waiting = `${reason}; waiting for it or another node`;
  if (await waitForNode(deps.sql, vm.id, waiting, heartbeatIntervalMs, dispatchWaitMs)) return "handled";
  return retryElsewhere(deps, vm, `${reason} (waited ${dispatchWaitMs / 1000} s for it or another node)`);
}

/** moveOrFail, again after a claim conflict; "wait" when the VM may wait (mayWait and no node now). */
async function moveWithRetries(deps: RetryDeps, vm: DispatchVm, reason: string, mayWait: boolean): Promise<RetryOutcome | "wait"> {
  for (let attempt = 0; attempt <= deps.config.claimRetries; attempt++) {
    try {
      return await transaction(deps.sql, (tx) => moveOrFail(deps, tx, vm, reason, mayWait));
    } catch (err) {
      if (err instanceof NoNodeYet) return "wait";
      // A deadlock between the release on one node and the claim on another is a conflict too.
      if (!(asStoreError(err) instanceof ClaimConflictError)) throw err;
      deps.metrics.claimConflicts.inc();
    }
  }
  return "handled";
}

/**
 * retryElsewhere's transaction: the VM goes to another node, or FAILED when none is left or it ran
 * out of attempts; with mayWait, no node rolls it back (NoNodeYet) instead of failing.
 */
async function moveOrFail(deps: RetryDeps, tx: Tx, vm: DispatchVm, reason: string, mayWait: boolean): Promise<RetryOutcome> {
  const current = await lockVm(tx, vm.id);
  if (current?.state === "DELETING") return "deleting";
  if (current?.state !== "PROVISIONING") return "handled"; // deleted or taken over meanwhile
  await releaseClaim(tx, vm.id);
  const tried = [...current.failedNodes, vm.node ?? ""];
  // A node that is DOWN or DEGRADED was not tried (mayWait): that attempt does not count.
  if (!mayWait && current.attempts >= deps.config.dispatchAttempts) {
    await failVm(tx, vm.id, `gave up after ${current.attempts} attempts; last: ${reason}`, vm.node);
    return "handled";
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
    if (mayWait) throw new NoNodeYet();
    const why = result.unplaced[0]?.message ?? "no other node";
    await failVm(tx, vm.id, `${reason}; no other node can take it: ${why}`, vm.node);
    return "handled";
  }
  await claimResources(tx, [{ node: p.node, ...resources }]);
  await rescheduleVm(tx, vm.id, { node: p.node, placement: explanation(p), failedNode: vm.node ?? "", reason });
  await retakeQuota(tx, vm.id);
  // Last (node rows, then projects, then groups, as in a create): the VM joins its groups on the
  // new node, checked like a create's members, so a concurrent create cannot break them.
  const { antiAffinityGroup, affinityGroup } = PlacementPolicy.fromJSON(current.policy);
  await claimGroupMembers(tx, [{ node: p.node, groups: current.groups, antiAffinityGroup, affinityGroup }]);
  return "handled";
}
