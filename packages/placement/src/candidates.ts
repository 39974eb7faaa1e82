import type { Strategy } from "./types.js";

/** Below this many nodes every strategy scores every node: a full scan costs only a few µs. */
export const FULL_SCAN_NODES = 256;
/** Feasible nodes spread scores on a larger cluster (the Nomad/kube-style sample). */
export const SPREAD_CANDIDATES = 128;

/**
 * The candidate limit the scheduler should pass as `maxCandidates` (undefined: score every node).
 *
 * - spread: every node up to {@link FULL_SCAN_NODES}, then a sample of {@link SPREAD_CANDIDATES}
 *   feasible nodes in a seeded per-VM order. Spreading only needs a node near the emptiest, and the
 *   best of 128 random feasible nodes is already in the emptiest ~1 % with probability
 *   1 − 0.99^128 ≈ 72 % (in the emptiest 5 % with > 99.8 %); different VMs sample different nodes,
 *   so load still evens out. This keeps a decision O(128) instead of O(nodes) in the scan.
 * - pack: always every node. Best fit only works if it sees the fullest node that still fits;
 *   a sample would leave partly used hosts behind and open new ones (packing quality is the point).
 */
export function defaultMaxCandidates(strategy: Strategy, nodeCount: number): number | undefined {
  if (strategy === "pack") return undefined;
  return nodeCount > FULL_SCAN_NODES ? SPREAD_CANDIDATES : undefined;
}
