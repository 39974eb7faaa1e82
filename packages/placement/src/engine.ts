import { formatReasons, reasonDetail } from "./explain.js";
import { applicableFilters, type Filter, type Rejection } from "./filter.js";
import { cpuFilter } from "./filters/cpu.js";
import { diskFilter } from "./filters/disk.js";
import { memoryFilter } from "./filters/memory.js";
import { nodeStateFilter } from "./filters/node-state.js";
import { placementOrder } from "./order.js";
import { better, plainBatch, refinePack } from "./pack-portfolio.js";
import { FILTERS, scorerPlan, type WeightedScorer } from "./registry.js";
import { tieBreak, vmHash } from "./seed.js";
import type {
  BatchResult,
  NodeSnapshot,
  Placement,
  PlacementOptions,
  ReasonCount,
  RejectReason,
  Resources,
  ScorerWeight,
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
 * An array of nodes is validated the first time it is passed; a caller may later replace its
 * elements (a node's newer snapshot) but must not change the names in it.
 */
export function placeBatch(nodes: readonly NodeSnapshot[], vms: readonly VmRequest[], options: PlacementOptions): BatchResult {
  validate(nodes, vms, options);
  const bestFit = placeOnce(nodes, vms, options, "blend");
  if (options.strategy !== "pack" || vms.length < 2) return bestFit;
  // Bin packing has no single best heuristic: also run first-fit-decreasing and keep whichever
  // places more VMs, then opens fewer empty nodes (ties keep best fit). Pack is never worse than FFD.
  const firstFit = placeOnce(nodes, vms, { ...options, scorers: firstFitScorers(options.scorers) }, "dominant");
  const best = better(firstFit, bestFit, nodes) ? firstFit : bestFit;
  // Plain batches (no constraints, preferences or groups: the bulk case) also get a bin-centric fill and a local
  // search that empties opened nodes; see pack-portfolio.ts. Kept only when better, so still never worse than FFD.
  return plainBatch(nodes, vms, options) ? refinePack(nodes, vms, options, best) : best;
}

function placeOnce(
  nodes: readonly NodeSnapshot[],
  vms: readonly VmRequest[],
  options: PlacementOptions,
  order: "blend" | "dominant",
): BatchResult {
  const plan = scorerPlan(options);
  const state = new Batch(nodes);
  const anchors = existingAnchors(state, vms);
  state.affinityAnchor = anchors;
  const limit = options.maxCandidates ?? nodes.length;

  const placements: Placement[] = [];
  const unplaced: Unplaced[] = [];
  // A single VM needs no ordering (and so no pass over every node to size it).
  const units = vms.length === 1 ? [[vms[0]!]] : placementOrder(vms, state.nodes, order);
  for (const unit of units) {
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
        d = decide(ranked, state, scorers, vmH, limit);
        if (d.node === null) ranked = vm;
      }
      if (d === null || d.node === null) d = decide(vm, state, scorers, vmH, limit);

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
 * The engine's batch state: the working copies of the nodes, built on first touch. A limited scan
 * touches only the nodes it looks at, so a single-VM decision does not pay for building every node.
 */
class Batch implements BatchState {
  private all: WorkingNode[] | null = null;
  private readonly gen: number;
  affinityAnchor: ReadonlyMap<string, WorkingNode> = new Map();

  constructor(readonly snapshots: readonly NodeSnapshot[]) {
    // Dense (undefined-filled, not holey or sparse) so random first touches stay fast element stores.
    while (pool.length < snapshots.length) pool.push(undefined);
    this.gen = ++generation;
  }

  get size(): number {
    return this.snapshots.length;
  }

  /** The working copy of node i, (re)built from its snapshot on first touch in this batch. */
  node(i: number): WorkingNode {
    let w = pool[i];
    if (w === undefined) {
      w = new WorkingNode(i, this.snapshots[i]!, this.gen);
      pool[i] = w;
    } else if (w.batch !== this.gen) {
      w.reset(i, this.snapshots[i]!, this.gen);
    }
    return w;
  }

  /** Every working node, in input order (builds the ones not touched yet). */
  get nodes(): readonly WorkingNode[] {
    if (this.all === null) {
      const all: WorkingNode[] = [];
      for (let i = 0; i < this.snapshots.length; i++) all.push(this.node(i));
      this.all = all;
    }
    return this.all;
  }
}

/**
 * Working nodes reused from call to call (placeBatch is synchronous and nothing keeps a working node
 * after it returns), so a full scan of a large cluster allocates nothing per node: fresh objects
 * for 50k nodes per call cost more in garbage collection than the scan itself. A working node
 * records the batch that last initialized it (`batch`), so checking it costs no extra memory access.
 */
const pool: (WorkingNode | undefined)[] = [];
let generation = 0;

/**
 * The first four filters are plain numeric checks that reject most nodes a scan passes over; the
 * hot loop runs them as one inline test ({@link mayReject}) and asks the filters themselves only
 * when that test fails, so the filters stay the source of truth for every rejection reason.
 * The remaining filters run only when they apply to the VM (see `Filter.applies`).
 */
const FAST: readonly Filter[] = [nodeStateFilter, cpuFilter, memoryFilter, diskFilter];
// FILTERS starts with exactly these (fast-path.test.ts checks it), so the rest follow them.
const REST: readonly Filter[] = FILTERS.slice(FAST.length);

/**
 * Inline form of the head filters: true when node-state, cpu, memory or disk would reject the node.
 * Exactly the disjunction of those filters (a property test checks it against them).
 */
export function mayReject(node: WorkingNode, cpu: number, mem: number, disk: number): boolean {
  return (
    node.state !== "READY" ||
    (cpu > 0 && cpu > node.allocCpu - node.usedCpu) ||
    (mem > 0 && mem > node.allocMem - node.usedMem) ||
    (disk > 0 && disk > node.allocDisk - node.usedDisk)
  );
}

/**
 * The hot loop: filter every candidate (first rejecting filter wins), score the feasible ones,
 * keep the best. Allocates nothing per node (except building a node's working copy on first touch).
 */
function decide(
  vm: VmRequest,
  state: Batch,
  scorers: readonly WeightedScorer[],
  vmH: number,
  limit: number,
): Decision {
  const n = state.size;
  // Only a limited scan needs a pseudo-random order; a full scan is order-independent thanks to the hash tie-break.
  const limited = limit < n;
  const counts = zeroCounts();
  const details: Partial<Record<RejectReason, string>> = {};
  let weightSum = 0;
  for (let s = 0; s < scorers.length; s++) weightSum += scorers[s]!.weight;
  const needCpu = vm.resources.vcpus;
  const needMem = vm.resources.memoryMib;
  const needDisk = vm.resources.diskGib;
  const rest = applicableFilters(REST, vm);
  const nRest = rest.length;
  const nScorers = scorers.length;

  let best: WorkingNode | null = null;
  let bestScore = -1;
  let bestTie = -1; // tie-break hash of `best`, computed only once a tie happens
  let feasible = 0;
  let evaluated = 0;
  // Limited scan: visit the nodes in a per-VM pseudo-random order, start + k × stride (mod n) with the
  // stride coprime to n, so it is a permutation: every node is reached if few are feasible. O(1) per
  // step, so sampling 64 of 10k nodes costs nothing per node it does not look at.
  let idx = limited ? vmH % n : 0;
  const stride = limited ? scanStride(vmH, n) : 1;
  for (let k = 0; k < n; k++) {
    const node = state.node(idx);
    idx += stride;
    if (idx >= n) idx -= n;
    evaluated++;

    let rejected: Rejection | null = null;
    if (mayReject(node, needCpu, needMem, needDisk)) {
      for (let f = 0; f < FAST.length; f++) {
        rejected = FAST[f]!.filter(node, vm, state);
        if (rejected !== null) break;
      }
    }
    if (rejected === null) {
      for (let f = 0; f < nRest; f++) {
        rejected = rest[f]!.filter(node, vm, state);
        if (rejected !== null) break;
      }
    }
    if (rejected !== null) {
      counts[rejected.reason]++;
      if (rejected.detail !== undefined && details[rejected.reason] === undefined) details[rejected.reason] = rejected.detail;
      continue;
    }

    feasible++;
    let total = 0;
    for (let s = 0; s < nScorers; s++) {
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

/** A step in 1..n-1 coprime to n, derived from the VM's hash (1 when n <= 2). */
function scanStride(vmH: number, n: number): number {
  if (n <= 2) return 1;
  let s = 1 + (tieBreak(vmH, 0x5bd1e995) % (n - 1));
  while (gcd(s, n) !== 1) s = s + 1 === n ? 1 : s + 1;
  return s;
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
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
function existingAnchors(state: Batch, vms: readonly VmRequest[]): Map<string, WorkingNode> {
  const anchors = new Map<string, WorkingNode>();
  const wanted = new Set<string>();
  for (const vm of vms) if (vm.affinityGroup) wanted.add(vm.affinityGroup);
  if (wanted.size === 0) return anchors;
  for (const node of state.nodes) {
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

/** Open-addressing table of node indexes, reused across calls (placeBatch is synchronous). */
let slots = new Int32Array(0);

/** What pack's first-fit run adds to the caller's scorers: pack's own score off, first fit on. */
const FIRST_FIT: readonly ScorerWeight[] = [
  { name: "pack", weight: 0 },
  { name: "first-fit", weight: 1 },
];
const firstFitByScorers = new WeakMap<object, ScorerWeight[]>();

/** The first-fit run's scorers: the same array for the same caller scorers, so its scorer plan is cached too. */
function firstFitScorers(scorers: ScorerWeight[] | undefined): ScorerWeight[] {
  const key = scorers ?? FIRST_FIT;
  let out = firstFitByScorers.get(key);
  if (!out) {
    out = [...(scorers ?? []), ...FIRST_FIT];
    firstFitByScorers.set(key, out);
  }
  return out;
}

/** Node arrays already checked, with their length then: a caller's cached array is checked once. */
const checkedArrays = new WeakMap<readonly NodeSnapshot[], number>();

/**
 * Throws on a duplicate node name. It would be the one pass over every node on every call, so an
 * array is checked once and remembered (callers that update a cached array in place, like the
 * scheduler's node cache, replace a node's snapshot but never its name). The check itself uses a
 * reused typed-array hash table (~15 ns per node) instead of a Set<string> (~100 ns per insert).
 */
function checkUniqueNames(nodes: readonly NodeSnapshot[]): void {
  const n = nodes.length;
  if (n < 2 || checkedArrays.get(nodes) === n) return;
  let size = 1024;
  while (size < 2 * n) size *= 2;
  if (slots.length < size) slots = new Int32Array(size);
  const table = slots;
  table.fill(-1, 0, size);
  const mask = size - 1;
  for (let i = 0; i < n; i++) {
    const name = nodes[i]!.name;
    let j = quickHash(name) & mask;
    for (let o = table[j]!; o !== -1; o = table[j]!) {
      if (nodes[o]!.name === name) throw new Error(`duplicate node name "${name}"`);
      j = (j + 1) & mask;
    }
    table[j] = i;
  }
  checkedArrays.set(nodes, n);
}

/** Cheap string hash for the duplicate check only (two code units per step, then a bit mixer). */
function quickHash(s: string): number {
  const len = s.length;
  let h = Math.imul(len, 0x9e3779b1) ^ 0x811c9dc5;
  let i = 0;
  for (; i + 1 < len; i += 2) h = Math.imul(h ^ (s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16)), 0x01000193);
  if (i < len) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  return h >>> 0;
}

function validate(nodes: readonly NodeSnapshot[], vms: readonly VmRequest[], options: PlacementOptions): void {
  checkUniqueNames(nodes);
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
