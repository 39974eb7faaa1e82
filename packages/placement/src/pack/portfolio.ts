import { placePass } from "../pass.js";
import { getScorer, strategyScorer } from "../registry.js";
import { scorerPlan } from "../scorer-plan.js";
import { firstFitScorer } from "../scorers/first-fit.js";
import type { BatchResult, NodeSnapshot, PlacementOptions, VmRequest } from "../types.js";
import { binCentricFill, type Assignment } from "./fill.js";
import { emptyOpenedNodes } from "./improve.js";
import { DIMS, needsOf, PackModel } from "./model.js";
import { replay } from "./replay.js";

/**
 * The pack strategy for a batch of two or more VMs, given the engine's best-fit pass. Bin packing
 * has no single best heuristic: also run first-fit-decreasing (first fit instead of pack's scorer,
 * VMs by dominant share) and keep whichever places more VMs, then opens fewer empty nodes (ties keep
 * best fit), so pack is never worse than FFD. Plain batches (the bulk case) also get a bin-centric
 * fill and a local search that empties opened nodes ({@link refinePack}), kept only when better.
 */
export function packPortfolio(nodes: readonly NodeSnapshot[], vms: readonly VmRequest[], options: PlacementOptions, bestFit: BatchResult): BatchResult {
  const firstFit = placePass(nodes, vms, options, scorerPlan(options, firstFitScorer), "dominant");
  const best = better(firstFit, bestFit, nodes) ? firstFit : bestFit;
  return plainBatch(nodes, vms, options) ? refinePack(nodes, vms, options, best) : best;
}

/** True when `a` places more VMs than `b`, or as many on fewer nodes that were empty before. */
export function better(a: BatchResult, b: BatchResult, nodes: readonly NodeSnapshot[]): boolean {
  if (a.placements.length !== b.placements.length) return a.placements.length > b.placements.length;
  const empty = new Set(nodes.filter(isEmpty).map((n) => n.name));
  const opened = (r: BatchResult) => new Set(r.placements.map((p) => p.node).filter((n) => empty.has(n))).size;
  return opened(a) < opened(b);
}

/** Nothing allocated before the batch: a node the batch opens if it uses it. */
function isEmpty(n: NodeSnapshot): boolean {
  return n.allocated.vcpus === 0 && n.allocated.memoryMib === 0 && n.allocated.diskGib === 0;
}

/**
 * A batch the refinement passes may handle: every VM plain (no constraints, preferences or groups
 * of any kind), every node scanned, and no extra scorer that would rank nodes differently from the
 * strategy's own (one that applies to none of the VMs scores every node alike). That is the bulk
 * case; anything else keeps the engine's own placements, whose decisions honour all of it.
 */
export function plainBatch(nodes: readonly NodeSnapshot[], vms: readonly VmRequest[], options: PlacementOptions): boolean {
  if (options.maxCandidates !== undefined && options.maxCandidates < nodes.length) return false;
  for (const vm of vms) {
    if (vm.constraints.length > 0 || vm.preferences.length > 0) return false;
    if (vm.affinityGroup || vm.antiAffinityGroup || vm.softAntiAffinityGroup) return false;
  }
  const own = strategyScorer(options.strategy);
  for (const { name, weight } of options.scorers ?? []) {
    const s = getScorer(name);
    if (weight === 0 || s === own) continue;
    if (s.applies === undefined || vms.some((vm) => s.applies!(vm))) return false;
  }
  return true;
}

/**
 * Second stage of a plain pack batch, given the best of the engine's own passes: a bin-centric fill
 * as one more candidate, and a local search that empties opened nodes on each. Both work on numbers
 * (PackModel); only the winner is replayed through the real filters, and it is kept only if it is
 * `better`, so this never opens more nodes or places fewer VMs than `current`.
 */
export function refinePack(nodes: readonly NodeSnapshot[], vms: readonly VmRequest[], options: PlacementOptions, current: BatchResult): BatchResult {
  if (current.unplaced.length > 0) return current; // the cluster is full: nothing to pack better
  // A batch that fits on nodes already in use opens none: nothing to win (the common small batch).
  const usedNodes = new Set(current.placements.map((p) => p.node));
  if (!nodes.some((n) => usedNodes.has(n.name) && isEmpty(n))) return current;
  const needs = needsOf(vms);
  const index = new Map<string, number>();
  for (let h = 0; h < nodes.length; h++) index.set(nodes[h]!.name, h);
  const vmIndex = new Map<string, number>();
  for (let v = 0; v < vms.length; v++) vmIndex.set(vms[v]!.key, v);
  const own: Assignment = { order: new Int32Array(vms.length), nodeOf: new Int32Array(vms.length) };
  current.placements.forEach((p, i) => {
    const v = vmIndex.get(p.key)!;
    own.order[i] = v;
    own.nodeOf[v] = index.get(p.node)!;
  });

  // Local search on both candidates (either can end up ahead), the fill first: it usually wins, and
  // once one reaches the bound the other is not searched. The search edits an assignment in place
  // only when it empties a node, and `own` is our copy, so `current` stays as it was.
  const start = new PackModel(nodes);
  const bound = minOpened(start, needs);
  const searched = (x: Assignment) => {
    const before = opened(start, x.nodeOf);
    if (before <= bound) return before;
    const model = new PackModel(nodes);
    for (let v = 0; v < vms.length; v++) model.add(x.nodeOf[v]!, needs, v, 1);
    return before - emptyOpenedNodes(model, needs, x.nodeOf);
  };
  const was = opened(start, own.nodeOf);
  const fill = binCentricFill(new PackModel(nodes), vms, needs, options.seed);
  let best = own;
  let fewest = Infinity;
  for (const x of fill === null ? [own] : [fill, own]) {
    if (fewest <= bound) break;
    const n = searched(x);
    if (n < fewest) {
      best = x;
      fewest = n;
    }
  }
  if (fewest >= was) return current;
  const result = replay(nodes, vms, options, best);
  return result !== null && better(result, current, nodes) ? result : current;
}

/** Nodes empty before the batch that the assignment uses. */
function opened(model: PackModel, nodeOf: Int32Array): number {
  const seen = new Set<number>();
  for (const h of nodeOf) if (model.emptyBefore[h] === 1) seen.add(h);
  return seen.size;
}

/**
 * A lower bound on the empty nodes any placement of the batch opens: per resource, what the room
 * left on READY nodes in use cannot hold, over the largest empty node. Reaching it, the local
 * search has nothing to win and is skipped.
 */
function minOpened(model: PackModel, needs: Float64Array): number {
  let bound = 0;
  for (let d = 0; d < DIMS; d++) {
    let demand = 0;
    for (let v = d; v < needs.length; v += DIMS) demand += needs[v]!;
    let largest = 0;
    for (let h = 0; h < model.n; h++) {
      if (model.ready[h] === 0) continue;
      const o = h * DIMS + d;
      if (model.emptyBefore[h] === 1) largest = Math.max(largest, model.alloc[o]!);
      else demand -= Math.max(0, model.alloc[o]! - model.used[o]!);
    }
    if (demand > 0) bound = Math.max(bound, largest > 0 ? Math.ceil(demand / largest) : Infinity);
  }
  return bound;
}
