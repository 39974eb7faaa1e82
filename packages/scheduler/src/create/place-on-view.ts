import type { BatchResult } from "@drover/placement";
import type { ValidCreate } from "../api/validation.js";
import { place, requireMinCount } from "./place.js";
import type { CreateDeps, PlannedVm } from "./plan.js";

/** Places on this replica's cached view; a request is only refused on a fresh view. */
export async function placeOnView(deps: CreateDeps, planned: PlannedVm[], req: ValidCreate, seed: string): Promise<BatchResult> {
  let result = place(deps, await deps.nodes.get(), planned, req.policy, seed);
  if (result.placements.length < req.minCount) result = place(deps, await deps.nodes.get(true), planned, req.policy, seed);
  return requireMinCount(deps, result, req);
}
