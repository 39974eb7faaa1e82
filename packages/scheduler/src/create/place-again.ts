import type { BatchResult, Resources, Strategy } from "@drover/placement";
import { PlacementPolicy } from "@drover/proto";
import type { Tx } from "@drover/store";
import { validatePolicy } from "../api/validation.js";
import { countFailures, place, type PlaceDeps } from "./place.js";
import { takeSnapshot } from "./snapshot.js";

/** A created VM whose dispatch failed, as its row holds it. */
export interface VmToPlaceAgain {
  id: string;
  resources: Resources;
  /** The policy stored with the VM (PlacementPolicy JSON), validated when it was created. */
  policy: unknown;
  groups: string[];
  /** Nodes already tried: never chosen again. */
  exclude: string[];
  /** Dispatch attempts so far; part of the seed, so each attempt breaks ties afresh. */
  attempts: number;
}

/**
 * Places one VM again after a failed dispatch, on the create path's place() with the VM's own
 * policy, on a fresh snapshot of the nodes not yet tried and of its groups' members (a group
 * member placed meanwhile is refused when the VM joins its groups, retry-elsewhere.ts). An
 * unplaced VM counts into the failure metric, as a create does.
 */
export async function placeAgain(deps: PlaceDeps, defaultStrategy: Strategy, tx: Tx, vm: VmToPlaceAgain): Promise<BatchResult> {
  const policy = validatePolicy(PlacementPolicy.fromJSON(vm.policy), defaultStrategy);
  const nodes = await takeSnapshot(tx, vm.groups, vm.exclude);
  const result = place(deps, nodes, [{ key: vm.id, spec: vm.resources }], policy, `${vm.id}/${vm.attempts}`);
  countFailures(deps, result);
  return result;
}
