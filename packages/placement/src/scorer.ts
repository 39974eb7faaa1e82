import type { BatchState, WorkingNode } from "./working.js";
import type { VmRequest } from "./types.js";

/** Ranks a feasible node for a VM, normalized to 0..100 (higher is better). Runs only on feasible nodes. */
export interface Scorer {
  readonly name: string;
  score(node: WorkingNode, vm: VmRequest, state: BatchState): number;
}

/** Free share of a resource after adding `need`, clamped to 0..1; a resource the node has none of counts as full. */
export function freeFractionAfter(alloc: number, used: number, need: number): number {
  if (alloc <= 0) return 0;
  const f = (alloc - used - need) / alloc;
  return f <= 0 ? 0 : f >= 1 ? 1 : f;
}
