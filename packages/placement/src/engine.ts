import { NodeList } from "./node-list.js";
import { packPortfolio } from "./pack/portfolio.js";
import { placePass } from "./pass.js";
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
  const list = input instanceof NodeList ? input : undefined;
  const nodes = list !== undefined ? list.snapshots : (input as readonly NodeSnapshot[]);
  validate(nodes, vms, options);
  const bestFit = placePass(nodes, vms, options, scorerPlan(options), "blend", true, list);
  if (options.strategy !== "pack" || vms.length < 2) return bestFit;
  return packPortfolio(nodes, vms, options, bestFit);
}
