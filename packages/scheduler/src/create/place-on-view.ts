import type { BatchResult, NodeList } from "@drover/placement";
import type { ValidCreate, ValidPolicy } from "../api/validation.js";
import type { GroupMembers } from "./group-cache.js";
import { place, requireMinCount, type VmToPlace } from "./place.js";
import type { CreateDeps, PlannedVm } from "./plan.js";

/**
 * Places on this replica's cached view: the node cache, with the members of the groups the
 * request names (group cache) laid over it. A request is only refused on a fresh view.
 */
export async function placeOnView(deps: CreateDeps, planned: PlannedVm[], req: ValidCreate, seed: string): Promise<BatchResult> {
  let result = await placeOnce(deps, planned, req.policy, seed, false);
  if (result.placements.length < req.minCount) result = await placeOnce(deps, planned, req.policy, seed, true);
  return requireMinCount(deps, result, req);
}

async function placeOnce(deps: CreateDeps, planned: PlannedVm[], policy: ValidPolicy, seed: string, fresh: boolean): Promise<BatchResult> {
  if (policy.groups.length === 0) return place(deps, await deps.nodes.get(fresh), planned, policy, seed);
  const [members, nodes] = await Promise.all([deps.groups.get(policy.groups, fresh), deps.nodes.get(fresh)]);
  return placeGrouped(deps, nodes, members, planned, policy, seed);
}

/**
 * place() on `nodes` (the node cache's list) with the policy's groups' members (the group cache's
 * maps, passed as they are: the engine looks a node up in them, so a group's size costs nothing).
 */
export function placeGrouped(
  deps: CreateDeps,
  nodes: NodeList,
  members: ReadonlyMap<string, GroupMembers>,
  planned: VmToPlace[],
  policy: ValidPolicy,
  seed: string,
): BatchResult {
  if (policy.groups.length === 0) return place(deps, nodes, planned, policy, seed);
  const mine = new Map(policy.groups.map((g) => [g, members.get(g) ?? NO_MEMBERS]));
  return place(deps, nodes, planned, policy, seed, mine);
}

const NO_MEMBERS: GroupMembers = new Map();
