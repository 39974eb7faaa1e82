import type { Strategy } from "./types.js";

/** Below this many nodes every strategy scores every node: a full scan costs only a few µs. */
export const FULL_SCAN_NODES = 256;
/** Feasible nodes spread scores on a larger cluster (the Nomad/kube-style sample). */
export const SPREAD_CANDIDATES = 64;

/**
 * The candidate limit the scheduler should pass as `maxCandidates` (undefined: score every node).
 *
 * - spread: every node up to {@link FULL_SCAN_NODES}, then a sample of {@link SPREAD_CANDIDATES}
 *   feasible nodes in a seeded per-VM order. Spreading only needs a node near the emptiest: the best
 *   of 64 random feasible nodes ranks on average in the top 1.5 % of all feasible nodes (p95: 4 %),
 *   and since different VMs sample different nodes, load evens out as well as with a full scan
 *   (benchmarks/spread-quality.ts, 10k hosts filled to 50 %: CPU utilization CV 0.114 with 64, 128
 *   or all nodes; the fullest node ends ~3 points fuller than with 128). 128 would halve the rate
 *   of single-VM decisions for no measurable gain in balance.
 * - pack: always every node. Best fit only works if it sees the fullest node that still fits;
 *   a sample would leave partly used hosts behind and open new ones (packing quality is the point).
 *   Above {@link FULL_SCAN_NODES} the engine finds that node with the best-fit tree (best-fit/)
 *   instead of scoring every node: the same decision, a few dozen nodes examined.
 */
export function defaultMaxCandidates(strategy: Strategy, nodeCount: number): number | undefined {
  if (strategy === "pack") return undefined;
  return nodeCount > FULL_SCAN_NODES ? SPREAD_CANDIDATES : undefined;
}
