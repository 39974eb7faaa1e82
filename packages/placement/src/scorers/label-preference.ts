import { matchesLabel } from "../labels.js";
import type { Scorer } from "../scorer.js";

/** Share of the VM's soft preferences the node matches, × 100. No preferences: 100 (vacuously all match). */
export const labelPreferenceScorer: Scorer = {
  name: "label-preference",
  score(node, vm) {
    const ps = vm.preferences;
    if (ps.length === 0) return 100;
    let hit = 0;
    for (let i = 0; i < ps.length; i++) if (matchesLabel(ps[i]!, node.labels)) hit++;
    return (100 * hit) / ps.length;
  },
};
