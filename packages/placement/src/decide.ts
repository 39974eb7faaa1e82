import type { Batch } from "./batch.js";
import { applicableFilters } from "./filter.js";
import { cpuFilter } from "./filters/cpu.js";
import { diskFilter } from "./filters/disk.js";
import { memoryFilter } from "./filters/memory.js";
import { nodeStateFilter } from "./filters/node-state.js";
import { FILTERS, type RegisteredFilter } from "./registry.js";
import type { Scoring } from "./scorer.js";
import { tieBreak } from "./seed.js";
import type { VmRequest } from "./types.js";
import type { WorkingNode } from "./working.js";

/** Outcome of one filter+score scan for one VM. */
export interface Decision {
  /** The best feasible node, or null when none passed every filter (then every node was scanned). */
  node: WorkingNode | null;
  score: number;
  feasible: number;
  evaluated: number;
}

/**
 * The first four filters are plain numeric checks that reject most nodes a scan passes over; the
 * hot loop runs them as one inline test ({@link mayReject}) and asks the filters themselves only
 * when that test fails, so the filters stay the source of truth for every rejection.
 * The remaining filters run only when they apply to the VM (see `Filter.applies`).
 */
export const FAST: readonly RegisteredFilter[] = [nodeStateFilter, cpuFilter, memoryFilter, diskFilter];
// FILTERS starts with exactly these (fast-path.test.ts checks it), so the rest follow them.
export const REST: readonly RegisteredFilter[] = FILTERS.slice(FAST.length);

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
 * Whether the node passes every filter: the head filters' inline test ({@link mayReject}), asking
 * them only when it fails, then the other filters that apply to the VM (`rest`, from
 * applicableFilters). The one filter step of both the scan and the best-fit search (small enough
 * for V8 to inline into both loops).
 */
export function passes(node: WorkingNode, vm: VmRequest, state: Batch, rest: readonly RegisteredFilter[]): boolean {
  const r = vm.resources;
  if (mayReject(node, r.vcpus, r.memoryMib, r.diskGib)) {
    for (let f = 0; f < FAST.length; f++) if (FAST[f]!.filter(node, vm, state) !== null) return false;
  }
  for (let f = 0; f < rest.length; f++) if (rest[f]!.filter(node, vm, state) !== null) return false;
  return true;
}

/**
 * The best node so far of a scan or of the best-fit search, as they offer it feasible nodes: a
 * higher score wins, then on equal scores a higher tie-break hash for the VM, then the lower input
 * index. A total order, so the scan and the search pick the same node in whatever order they visit
 * them. A node's hash is computed only on a tie, and the best's at most once. Callers offer only
 * nodes scoring at least `score`: a call per feasible node made a full scan of 10,000 nodes ~10%
 * slower than the loop with the best in locals, the check first made it as fast.
 */
export class Best {
  node: WorkingNode | null = null;
  score = -1;
  /** Tie-break hash of `node`; -1 until a tie needs it. */
  private tie = -1;

  constructor(private readonly vmH: number) {}

  offer(node: WorkingNode, total: number): void {
    if (total > this.score) {
      this.node = node;
      this.score = total;
      this.tie = -1;
      return;
    }
    if (total !== this.score) return;
    if (this.tie < 0) this.tie = tieBreak(this.vmH, this.node!.nameHash);
    const h = tieBreak(this.vmH, node.nameHash);
    if (h > this.tie || (h === this.tie && node.index < this.node!.index)) {
      this.node = node;
      this.tie = h;
    }
  }

  /** The decision, with the counts of the nodes feasible and looked at. */
  decision(feasible: number, evaluated: number): Decision {
    return { node: this.node, score: this.node === null ? 0 : this.score, feasible, evaluated };
  }
}

/**
 * The hot loop: filter every candidate, score the feasible ones, keep the best. Counts no reasons
 * (explainUnplaced does, for the VMs that did not fit). Allocates nothing per node (except building
 * a node's working copy on first touch).
 */
export function decide(vm: VmRequest, state: Batch, scoring: Scoring, vmH: number, limit: number): Decision {
  const n = state.size;
  // Only a limited scan needs a pseudo-random order; a full scan is order-independent thanks to the hash tie-break.
  const limited = limit < n;
  const rest = applicableFilters(REST, vm);

  const best = new Best(vmH);
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
    if (!passes(node, vm, state, rest)) continue;

    feasible++;
    const total = scoring.score(node, vm, state);
    if (total >= best.score) best.offer(node, total);
    if (feasible >= limit) break;
  }
  return best.decision(feasible, evaluated);
}

/**
 * The decision for a VM whose affinity group already has a node (its anchor): the affinity filter
 * rejects every other node, so a scan would find the anchor or nothing, after looking at every
 * node (spread's sample has one feasible node to find). Here it is O(1): the anchor through the
 * same filters and scoring. `evaluated` counts the one node looked at.
 */
export function decideOnAnchor(vm: VmRequest, state: Batch, scoring: Scoring, anchor: WorkingNode): Decision {
  if (!passes(anchor, vm, state, applicableFilters(REST, vm))) return { node: null, score: 0, feasible: 0, evaluated: 1 };
  return { node: anchor, score: scoring.score(anchor, vm, state), feasible: 1, evaluated: 1 };
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
