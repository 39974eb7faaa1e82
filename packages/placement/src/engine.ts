import { formatReasons, reasonDetail } from "./explain.js";
import type { Filter, Rejection } from "./filter.js";
import { nodeStateFilter } from "./filters/node-state.js";
import { placementOrder } from "./order.js";
import { FILTERS, ScorerPlan, type WeightedScorer } from "./registry.js";
import { shuffledIndices, tieBreak, vmHash } from "./seed.js";
import type {
  BatchResult,
  NodeSnapshot,
  Placement,
  PlacementOptions,
  ReasonCount,
  RejectReason,
  Resources,
  Unplaced,
  VmRequest,
} from "./types.js";
import { WorkingNode, type BatchState } from "./working.js";

/** Reasons in filter order: the tie-break when two reasons reject the same number of nodes. */
const REASON_ORDER: readonly RejectReason[] = [
  "node_not_ready",
  "cordoned",
  "draining",
  "down",
  "insufficient_cpu",
  "insufficient_memory",
  "insufficient_disk",
  "label_constraint",
  "anti_affinity",
  "affinity",
];

type Counts = Record<RejectReason, number>;
const zeroCounts = (): Counts => ({
  node_not_ready: 0,
  cordoned: 0,
  draining: 0,
  down: 0,
  insufficient_cpu: 0,
  insufficient_memory: 0,
  insufficient_disk: 0,
  label_constraint: 0,
  anti_affinity: 0,
  affinity: 0,
});

/** Outcome of one filter+score pass for one VM. */
interface Decision {
  node: WorkingNode | null;
  score: number;
  feasible: number;
  evaluated: number;
  counts: Counts;
  /** Details filters attached to their rejections, first one per reason. */
  details: Partial<Record<RejectReason, string>>;
}

/**
 * Places a batch of VMs jointly: each placement consumes room in a private working copy of the
 * nodes, so later VMs of the batch see it. Inputs are not mutated. Pure and deterministic: the
 * same nodes, VMs and options give the same result.
 */
export function placeBatch(nodes: readonly NodeSnapshot[], vms: readonly VmRequest[], options: PlacementOptions): BatchResult {
  validate(nodes, vms, options);
  const plan = new ScorerPlan(options);
  const work = nodes.map((n, i) => new WorkingNode(i, n));
  const anchors = existingAnchors(work, vms);
  const state: BatchState = { nodes: work, affinityAnchor: anchors };
  const limit = options.maxCandidates ?? work.length;
  // Only a limited scan needs a shuffled order; a full scan is order-independent thanks to the hash tie-break.
  const scan = limit < work.length ? shuffledIndices(work.length, `${options.seed}\0order`) : null;

  const placements: Placement[] = [];
  const unplaced: Unplaced[] = [];
  for (const unit of placementOrder(vms, work)) {
    for (let i = 0; i < unit.length; i++) {
      const vm = unit[i]!;
      const scorers = plan.forVm(vm);
      const vmH = vmHash(options.seed, vm.key);
      const group = vm.affinityGroup || undefined;
      let d: Decision | null = null;
      let ranked = vm;
      // First member of a new affinity group: pick a node with room for the whole group if one exists,
      // otherwise the group would strand its later members on a node that only fits the first.
      if (i === 0 && unit.length > 1 && group !== undefined && !anchors.has(group)) {
        ranked = combined(unit);
        d = decide(ranked, state, FILTERS, scorers, vmH, limit, scan);
        if (d.node === null) ranked = vm;
      }
      if (d === null || d.node === null) d = decide(vm, state, FILTERS, scorers, vmH, limit, scan);

      const node = d.node;
      if (node === null) {
        unplaced.push(explainUnplaced(vm, d, state));
        continue;
      }
      const scores: Record<string, number> = {};
      for (const { scorer } of scorers) scores[scorer.name] = scorer.score(node, ranked, state);
      placements.push({
        key: vm.key,
        node: node.name,
        score: d.score,
        scores,
        feasibleNodes: d.feasible,
        evaluatedNodes: d.evaluated,
      });
      node.take(vm.resources, [vm.antiAffinityGroup || undefined, group, vm.softAntiAffinityGroup || undefined]);
      if (group !== undefined && !anchors.has(group)) anchors.set(group, node);
    }
  }
  return { placements, unplaced };
}

/**
 * The hot loop: filter every candidate (first rejecting filter wins), score the feasible ones,
 * keep the best. Allocates nothing per node.
 */
function decide(
  vm: VmRequest,
  state: BatchState,
  filters: readonly Filter[],
  scorers: readonly WeightedScorer[],
  vmH: number,
  limit: number,
  scan: Uint32Array | null,
): Decision {
  const nodes = state.nodes;
  const n = nodes.length;
  const counts = zeroCounts();
  const details: Partial<Record<RejectReason, string>> = {};
  let weightSum = 0;
  for (let s = 0; s < scorers.length; s++) weightSum += scorers[s]!.weight;

  let best: WorkingNode | null = null;
  let bestScore = -1;
  let bestTie = -1; // tie-break hash of `best`, computed only once a tie happens
  let feasible = 0;
  let evaluated = 0;
  const start = scan === null ? 0 : vmH % n;
  for (let k = 0; k < n; k++) {
    let idx = start + k;
    if (idx >= n) idx -= n;
    const node = nodes[scan === null ? idx : scan[idx]!]!;
    evaluated++;

    let rejected: Rejection | null = null;
    for (let f = 0; f < filters.length; f++) {
      rejected = filters[f]!.filter(node, vm, state);
      if (rejected !== null) break;
    }
    if (rejected !== null) {
      counts[rejected.reason]++;
      if (rejected.detail !== undefined && details[rejected.reason] === undefined) details[rejected.reason] = rejected.detail;
      continue;
    }

    feasible++;
    let total = 0;
    for (let s = 0; s < scorers.length; s++) {
      const ws = scorers[s]!;
      total += ws.weight * ws.scorer.score(node, vm, state);
    }
    if (weightSum > 0) total /= weightSum;
    if (total > bestScore) {
      best = node;
      bestScore = total;
      bestTie = -1;
    } else if (total === bestScore) {
      if (bestTie < 0) bestTie = tieBreak(vmH, best!.nameHash);
      const t = tieBreak(vmH, node.nameHash);
      if (t > bestTie) {
        best = node;
        bestTie = t;
      }
    }
    if (feasible >= limit) break;
  }
  return { node: best, score: best === null ? 0 : bestScore, feasible, evaluated, counts, details };
}

/** The request a new affinity group is ranked with: summed resources, every member's constraints. */
function combined(unit: readonly VmRequest[]): VmRequest {
  const first = unit[0]!;
  const resources: Resources = { vcpus: 0, memoryMib: 0, diskGib: 0 };
  for (const m of unit) {
    resources.vcpus += m.resources.vcpus;
    resources.memoryMib += m.resources.memoryMib;
    resources.diskGib += m.resources.diskGib;
  }
  return { ...first, resources, constraints: unit.flatMap((m) => m.constraints) };
}

/** Affinity groups of the batch that already run somewhere: pinned to the node with most members (then lowest name). */
function existingAnchors(nodes: readonly WorkingNode[], vms: readonly VmRequest[]): Map<string, WorkingNode> {
  const anchors = new Map<string, WorkingNode>();
  const wanted = new Set<string>();
  for (const vm of vms) if (vm.affinityGroup) wanted.add(vm.affinityGroup);
  if (wanted.size === 0) return anchors;
  for (const node of nodes) {
    for (const g in node.groups) {
      if (!wanted.has(g) || !Object.hasOwn(node.groups, g)) continue;
      const c = node.groups[g]!;
      if (!(c > 0)) continue;
      const cur = anchors.get(g);
      if (cur === undefined) {
        anchors.set(g, node);
        continue;
      }
      const cc = cur.groups[g]!;
      if (c > cc || (c === cc && node.name < cur.name)) anchors.set(g, node);
    }
  }
  return anchors;
}

function explainUnplaced(vm: VmRequest, d: Decision, state: BatchState): Unplaced {
  // Second pass only for VMs that did not fit: the hot loop stays free of max() bookkeeping.
  const largestFree: Resources = { vcpus: 0, memoryMib: 0, diskGib: 0 };
  for (const node of state.nodes) {
    if (nodeStateFilter.filter(node, vm, state) !== null) continue;
    largestFree.vcpus = Math.max(largestFree.vcpus, node.freeCpu());
    largestFree.memoryMib = Math.max(largestFree.memoryMib, node.freeMem());
    largestFree.diskGib = Math.max(largestFree.diskGib, node.freeDisk());
  }
  const g = vm.affinityGroup;
  const anchor = g ? state.affinityAnchor.get(g) : undefined;
  const ctx = anchor ? { largestFree, affinityNode: anchor.name } : { largestFree };
  const reasons: ReasonCount[] = REASON_ORDER.filter((r) => d.counts[r] > 0)
    .map((reason) => ({
      reason,
      nodes: d.counts[reason],
      detail: reasonDetail(reason, vm, ctx) || (d.details[reason] ?? ""),
    }))
    .sort((a, b) => b.nodes - a.nodes); // stable: equal counts keep filter order
  const message = reasons.length > 0 ? formatReasons(reasons) : "no nodes in the cluster";
  return { key: vm.key, reasons, message };
}

function validate(nodes: readonly NodeSnapshot[], vms: readonly VmRequest[], options: PlacementOptions): void {
  const names = new Set<string>();
  for (const n of nodes) {
    if (names.has(n.name)) throw new Error(`duplicate node name "${n.name}"`);
    names.add(n.name);
  }
  const keys = new Set<string>();
  for (const vm of vms) {
    if (keys.has(vm.key)) throw new Error(`duplicate VM key "${vm.key}"`);
    keys.add(vm.key);
    const r = vm.resources;
    for (const [what, v] of [
      ["vcpus", r.vcpus],
      ["memoryMib", r.memoryMib],
      ["diskGib", r.diskGib],
    ] as const) {
      if (!Number.isFinite(v) || v < 0) throw new Error(`VM "${vm.key}": ${what} must be a finite number >= 0, got ${v}`);
    }
  }
  const k = options.maxCandidates;
  if (k !== undefined && !(Number.isInteger(k) && k >= 1)) {
    throw new Error(`maxCandidates must be an integer >= 1, got ${k}`);
  }
  if (typeof options.seed !== "string") throw new Error("seed must be a string");
}
