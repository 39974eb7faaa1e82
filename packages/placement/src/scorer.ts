import type { BatchState, WorkingNode } from "./working.js";
import type { VmRequest } from "./types.js";

/** Ranks a feasible node for a VM, normalized to 0..100 (higher is better). Runs only on feasible nodes. */
export interface Scorer {
  readonly name: string;
  score(node: WorkingNode, vm: VmRequest, state: BatchState): number;
  /**
   * Optional: false means `score` is the same on every node for this VM (e.g. the VM has no
   * preferences), so the scorer cannot change which node wins. Absent means "always ranks".
   */
  applies?(vm: VmRequest): boolean;
  /**
   * Set: the engine adds the scorer with this weight to every VM it `applies` to, unless
   * `options.scorers` names it (which sets the weight for every VM). Absent: the scorer runs only
   * as the strategy or when named.
   */
  readonly defaultWeight?: number;
}

/** Free share of a resource after adding `need`, clamped to 0..1; a resource the node has none of counts as full. */
export function freeFractionAfter(alloc: number, used: number, need: number): number {
  if (alloc <= 0) return 0;
  const f = (alloc - used - need) / alloc;
  return f <= 0 ? 0 : f >= 1 ? 1 : f;
}

export interface WeightedScorer {
  readonly scorer: Scorer;
  readonly weight: number;
}

/**
 * The scorers one VM is ranked with, and their weighted mean: the one definition of a placement's
 * `score`, used by the engine's scan and by the pack replay alike.
 */
export class Scoring {
  readonly weightSum: number;

  constructor(readonly scorers: readonly WeightedScorer[]) {
    let sum = 0;
    for (const s of scorers) sum += s.weight;
    this.weightSum = sum;
  }

  /** Weighted mean of the scorers on this node, 0..100 (the plain sum when every weight is 0). */
  score(node: WorkingNode, vm: VmRequest, state: BatchState): number {
    const scorers = this.scorers;
    let total = 0;
    for (let s = 0; s < scorers.length; s++) {
      const ws = scorers[s]!;
      total += ws.weight * ws.scorer.score(node, vm, state);
    }
    return this.weightSum > 0 ? total / this.weightSum : total;
  }

  /** Each scorer's own 0..100 score on this node, by name: a placement's `scores`. */
  breakdown(node: WorkingNode, vm: VmRequest, state: BatchState): Record<string, number> {
    const out: Record<string, number> = {};
    for (const { scorer } of this.scorers) out[scorer.name] = scorer.score(node, vm, state);
    return out;
  }
}
