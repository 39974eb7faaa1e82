import type { Scorer } from "../scorer.js";

/**
 * First fit: the earliest node in the snapshot's order scores highest (100 for the first, then
 * 100 / (1 + index)). With VMs in decreasing size this is first-fit-decreasing, the classic bin
 * packing baseline; the engine runs it beside best fit for pack batches and keeps the better.
 */
export const firstFitScorer: Scorer = {
  name: "first-fit",
  score(node) {
    return 100 / (1 + node.index);
  },
};
