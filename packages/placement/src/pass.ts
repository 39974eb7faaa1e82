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
  return new Pass(new Batch(nodes, options.groupMembers ?? null), vms, options, plan, order, fast, list).advance(Infinity);
}

/**
 * placePass's greedy pass as an object that can stop after some VMs and go on later: `advance(n)`
 * places the next n VMs of the placement order. The decisions are those of one uninterrupted
 * pass, since nothing but the pass's own state carries from one VM to the next; its Batch must
 * then hold its own snapshots and working nodes (placeBatchInSteps), not ones other calls reuse.
 */
export class Pass {
  private readonly way: Way;
  /** Affinity group -> its node, as the pass pins them (way.anchors, writable). */
  private readonly anchors: Map<string, WorkingNode>;
  private readonly units: readonly (readonly VmRequest[])[];
  /** The next VM to place: units[unit][member]. */
  private unit = 0;
  private member = 0;
  private left: number;

  constructor(
    state: Batch,
    vms: readonly VmRequest[],
    private readonly options: PlacementOptions,
    private readonly plan: ScorerPlan,
    order: "blend" | "dominant",
    fast = true,
    list?: NodeList,
  ) {
    const nodes = state.snapshots;
    const anchors = existingAnchors(state, vms);
    state.affinityAnchor = anchors;
    const limit = options.maxCandidates ?? nodes.length;
    const fit = fast && limit >= nodes.length && anySearchable(vms, plan) ? bestFitTree(nodes, list) : null;
    this.anchors = anchors;
    this.way = { state, anchors, fast, fit, limit };
    // A single VM needs no ordering (and so no pass over every node to size it).
    this.units = vms.length === 1 ? [[vms[0]!]] : placementOrder(vms, state.nodes, order);
    this.left = vms.length;
  }

  /** Every VM has been placed or found no node. */
  get done(): boolean {
    return this.left === 0;
  }

  /** Places the next `count` VMs (or all that are left) in placement order: their placements and the VMs that found no node. */
  advance(count: number): BatchResult {
    const { way, units, plan, options, anchors } = this;
    const { state, fit } = way;
    const placements: Placement[] = [];
    const unplaced: Unplaced[] = [];
    let left = this.left;
    const stopAt = Math.max(0, left - count);
    let u = this.unit;
    let i = this.member;
    for (; u < units.length && left > stopAt; u++, i = 0) {
      const unit = units[u]!;
      for (; i < unit.length && left > stopAt; i++) {
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
      // Stopped inside this unit: go on from its next member.
      if (i < unit.length) break;
    }
    this.unit = u;
    this.member = i;
    this.left = left;
    return { placements, unplaced };
  }
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
