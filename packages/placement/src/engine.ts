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
 * elements (a node's newer snapshot) but must not change the names in it.
 */
export function placeBatch(nodes: readonly NodeSnapshot[], vms: readonly VmRequest[], options: PlacementOptions): BatchResult {
  validate(nodes, vms, options);
  const bestFit = placePass(nodes, vms, options, scorerPlan(options), "blend");
  if (options.strategy !== "pack" || vms.length < 2) return bestFit;
  return packPortfolio(nodes, vms, options, bestFit);
}
