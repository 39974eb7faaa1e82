import { NodeList } from "./node-list.js";
import { packPortfolio } from "./pack/portfolio.js";
import { Batch } from "./batch.js";
import { Pass, placePass } from "./pass.js";
import { scorerPlan } from "./scorer-plan.js";
import type { BatchResult, NodeSnapshot, PlacementOptions, VmRequest } from "./types.js";
import { validate } from "./validate.js";

/**
 * Places a batch of VMs jointly: each placement consumes room in a private working copy of the
 * nodes, so later VMs of the batch see it. Inputs are not mutated. Pure and deterministic: the
 * same nodes, VMs and options give the same result.
 * An array of nodes is validated the first time it is passed; a caller may later replace its
 * elements (a node's newer snapshot) but must not change the names in it. A caller that keeps
 * its nodes across calls should pass a {@link NodeList}: the engine then updates its caches from
 * the list's change log instead of checking every node (same result, less work per call).
 */
export function placeBatch(input: readonly NodeSnapshot[] | NodeList, vms: readonly VmRequest[], options: PlacementOptions): BatchResult {
  const { nodes, list } = validated(input, vms, options);
  return placeValidated(nodes, list, vms, options);
}

/**
 * placeBatch in steps of `stepVms` VMs, for a caller that commits each step while the engine
 * places the next: the steps' placements, and their unplaced VMs, concatenated in order, are
 * placeBatch's result on the same input. Between steps the caller may set newer snapshots into
 * its list and place other batches: the pass keeps its own copy of the snapshots (as they were at
 * the first step) and its own working nodes. `options.groupMembers` must stay as it is until the
 * last step. Pack's portfolio compares whole passes, so a pack batch of several VMs is placed
 * whole at the first step and handed out in steps.
 */
export function* placeBatchInSteps(
  input: readonly NodeSnapshot[] | NodeList,
  vms: readonly VmRequest[],
  options: PlacementOptions,
  stepVms: number,
): Generator<BatchResult, void, undefined> {
  if (!(stepVms >= 1)) throw new RangeError(`stepVms must be at least 1, not ${stepVms}`);
  const { nodes, list } = validated(input, vms, options);
  if (options.strategy === "pack" && vms.length >= 2) {
    const whole = placeValidated(nodes, list, vms, options);
    for (let i = 0; i < whole.placements.length || i === 0; i += stepVms) {
      const last = i + stepVms >= whole.placements.length;
      yield { placements: whole.placements.slice(i, i + stepVms), unplaced: last ? whole.unplaced : [] };
    }
    return;
  }
  const own = new Batch(nodes.slice(), options.groupMembers ?? null, []);
  const pass = new Pass(own, vms, options, scorerPlan(options), "blend", true);
  do yield pass.advance(stepVms);
  while (!pass.done);
}

function validated(input: readonly NodeSnapshot[] | NodeList, vms: readonly VmRequest[], options: PlacementOptions) {
  const list = input instanceof NodeList ? input : undefined;
  const nodes = list !== undefined ? list.snapshots : (input as readonly NodeSnapshot[]);
  validate(nodes, vms, options);
  return { nodes, list };
}

function placeValidated(nodes: readonly NodeSnapshot[], list: NodeList | undefined, vms: readonly VmRequest[], options: PlacementOptions): BatchResult {
  const bestFit = placePass(nodes, vms, options, scorerPlan(options), "blend", true, list);
  if (options.strategy !== "pack" || vms.length < 2) return bestFit;
  return packPortfolio(nodes, vms, options, bestFit);
}
