import { applicableFilters, firstRejection } from "../filter.js";
import { FILTERS, type RegisteredFilter } from "../registry.js";
import { scorerPlan } from "../scorer-plan.js";
import type { Assignment } from "./fill.js";
import type { BatchResult, NodeSnapshot, Placement, PlacementOptions, VmRequest } from "../types.js";
import { WorkingNode, type BatchState } from "../working.js";

/**
 * Turns an assignment made by the pack refinement passes into the engine's result, placing the VMs
 * in `order` on a fresh working copy of the nodes and checking every placement against every filter
 * (the source of truth): returns null if any filter rejects one, so a refinement can only ever be
 * dropped, never make an invalid placement. Each placement reports what a full scan would at that
 * point: the nodes that pass the filters, and the scorers on its node. Plain VMs only (no affinity
 * group, which would need anchors): see portfolio.ts's `plainBatch`.
 */
export function replay(nodes: readonly NodeSnapshot[], vms: readonly VmRequest[], options: PlacementOptions, a: Assignment): BatchResult | null {
  const work = nodes.map((s, i) => new WorkingNode(i, s));
  const state: BatchState = { nodes: work, affinityAnchor: new Map() };
  const counter = new FeasibleCounter(nodes);
  const plan = scorerPlan(options);
  const placements: Placement[] = [];
  for (const v of a.order) {
    const vm = vms[v]!;
    const filters = applicableFilters(FILTERS, vm);
    const node = work[a.nodeOf[v]!];
    if (node === undefined || !passes(filters, node, vm, state)) return null;
    const scoring = plan.forVm(vm);
    placements.push({
      key: vm.key,
      node: node.name,
      score: scoring.score(node, vm, state),
      scores: scoring.breakdown(node, vm, state),
      feasibleNodes: counter.count(vm, filters, state),
      evaluatedNodes: work.length,
    });
    counter.touch(node.index);
    node.take(vm.resources, [vm.antiAffinityGroup || undefined, vm.affinityGroup || undefined, vm.softAntiAffinityGroup || undefined]);
  }
  return { placements, unplaced: [] };
}

function passes(filters: readonly RegisteredFilter[], node: WorkingNode, vm: VmRequest, state: BatchState): boolean {
  return firstRejection(filters, node, vm, state) === null;
}

/**
 * Nodes passing the filters for a VM, without a scan of every node per VM: a node the replay has
 * not placed anything on is still as in its snapshot, so for plain VMs (whose filters read only the
 * node) the count among those is the same for every VM of one request size. It is counted once per
 * size on pristine copies, then corrected on the few nodes the batch has touched.
 */
class FeasibleCounter {
  private readonly pristine: WorkingNode[];
  private readonly pristineState: BatchState;
  private readonly bySize = new Map<string, number>();
  private readonly touched: number[] = [];
  private readonly isTouched: Uint8Array;

  constructor(nodes: readonly NodeSnapshot[]) {
    this.pristine = nodes.map((s, i) => new WorkingNode(i, s));
    this.pristineState = { nodes: this.pristine, affinityAnchor: new Map() };
    this.isTouched = new Uint8Array(nodes.length);
  }

  count(vm: VmRequest, filters: readonly RegisteredFilter[], state: BatchState): number {
    const r = vm.resources;
    const size = `${r.vcpus}/${r.memoryMib}/${r.diskGib}`;
    let untouched = this.bySize.get(size);
    if (untouched === undefined) {
      untouched = 0;
      for (const n of this.pristine) if (passes(filters, n, vm, this.pristineState)) untouched++;
      this.bySize.set(size, untouched);
    }
    let c = untouched;
    for (const h of this.touched) {
      if (passes(filters, this.pristine[h]!, vm, this.pristineState)) c--;
      if (passes(filters, state.nodes[h]!, vm, state)) c++;
    }
    return c;
  }

  touch(h: number): void {
    if (this.isTouched[h] === 1) return;
    this.isTouched[h] = 1;
    this.touched.push(h);
  }
}
