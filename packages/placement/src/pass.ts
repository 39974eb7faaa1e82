import { combined, existingAnchors } from "./affinity-groups.js";
import { Batch } from "./batch.js";
import { bestFitTree, type TrackedTree } from "./best-fit/cache.js";
import { decideBestFit, searchable } from "./best-fit/search.js";
import { decide, decideOnAnchor, type Decision } from "./decide.js";
import { explainUnplaced } from "./explain.js";
import type { NodeList } from "./node-list.js";
import { placementOrder } from "./order.js";
import type { Scoring } from "./scorer.js";
import type { ScorerPlan } from "./scorer-plan.js";
import { vmHash } from "./seed.js";
import type { BatchResult, NodeSnapshot, Placement, PlacementOptions, Unplaced, VmRequest } from "./types.js";
import type { WorkingNode } from "./working.js";

/**
 * One greedy pass over the batch: VMs in placement order ("blend" or "dominant" size, see order.ts),
 * each on the best node for it given what the VMs before it took. A pack VM on a large cluster
 * with every node as a candidate is decided by the best-fit tree (best-fit/), which finds the
 * node a full scan would without scoring every node, and a member of an affinity group that has a node
 * already is decided on that node alone; `fast: false` scans for every decision instead (tests compare the two).
 * `list`, when the caller keeps one with these snapshots, tells the tree which nodes changed.
 */
export function placePass(
  nodes: readonly NodeSnapshot[],
  vms: readonly VmRequest[],
  options: PlacementOptions,
  plan: ScorerPlan,
  order: "blend" | "dominant",
  fast = true,
  list?: NodeList,
): BatchResult {
  const state = new Batch(nodes, options.groupMembers ?? null);
  const anchors = existingAnchors(state, vms);
  state.affinityAnchor = anchors;
  const limit = options.maxCandidates ?? nodes.length;
  const fit = fast && limit >= nodes.length && anySearchable(vms, plan) ? bestFitTree(nodes, list) : null;
  const way: Way = { state, anchors, fast, fit, limit };

  const placements: Placement[] = [];
  const unplaced: Unplaced[] = [];
  // A single VM needs no ordering (and so no pass over every node to size it).
  const units = vms.length === 1 ? [[vms[0]!]] : placementOrder(vms, state.nodes, order);
  let left = vms.length;
  for (const unit of units) {
    for (let i = 0; i < unit.length; i++) {
      const vm = unit[i]!;
      left--;
      const scoring = plan.forVm(vm);
      const vmH = vmHash(options.seed, vm.key);
      const group = vm.affinityGroup || undefined;
      let d: Decision | null = null;
      let ranked = vm;
      // First member of a new affinity group: pick a node with room for the whole group if one exists,
      // otherwise the group would strand its later members on a node that only fits the first.
      if (i === 0 && unit.length > 1 && group !== undefined && !anchors.has(group)) {
        ranked = combined(unit);
        d = choose(way, ranked, scoring, vmH);
        if (d.node === null) ranked = vm;
      }
      if (d === null || d.node === null) d = choose(way, vm, scoring, vmH);

      const node = d.node;
      if (node === null) {
        unplaced.push(explainUnplaced(vm, state));
        continue;
      }
      placements.push({
        key: vm.key,
        node: node.name,
        score: d.score,
        scores: scoring.breakdown(node, ranked, state),
        feasibleNodes: d.feasible,
        evaluatedNodes: d.evaluated,
      });
      node.take(vm.resources, [vm.antiAffinityGroup || undefined, group, vm.softAntiAffinityGroup || undefined]);
      // The tree must see the booking only if another VM of this batch follows: left alone, it
      // still mirrors the caller's snapshots (a single VM's booking cost a second raise).
      if (left > 0) fit?.booked(node);
      if (group !== undefined && !anchors.has(group)) anchors.set(group, node);
    }
  }
  return { placements, unplaced };
}

/** What `choose` needs of a pass: a plain object and function rather than a closure made on every call. */
interface Way {
  state: Batch;
  anchors: ReadonlyMap<string, WorkingNode>;
  fast: boolean;
  fit: TrackedTree | null;
  limit: number;
}

/** One VM's decision: on its group's node, by the best-fit tree, or by the scan. */
function choose(way: Way, vm: VmRequest, scoring: Scoring, vmH: number): Decision {
  const { state, fit } = way;
  // A member of an affinity group with a node already: only that node can take it.
  const anchor = way.fast && vm.affinityGroup ? way.anchors.get(vm.affinityGroup) : undefined;
  if (anchor !== undefined) return decideOnAnchor(vm, state, scoring, anchor);
  return fit !== null && searchable(vm, scoring) ? decideBestFit(vm, state, scoring, vmH, fit.tree) : decide(vm, state, scoring, vmH, way.limit);
}

function anySearchable(vms: readonly VmRequest[], plan: ScorerPlan): boolean {
  for (const vm of vms) if (searchable(vm, plan.forVm(vm))) return true;
  return false;
}
