import { matchesLabel } from "../labels.js";
import type { Scorer } from "../scorer.js";

/**
 * Weight of the scorer for a VM with preferences, unless DROVER_SCORERS names it. At 2 it outweighs
 * the strategy (weight 1): a preference the node matches beats any spread/pack difference short of
 * full versus empty.
 */
export const LABEL_PREFERENCE_WEIGHT = 2;

/** Share of the VM's soft preferences the node matches, × 100. No preferences: 100 (vacuously all match). */
export const labelPreferenceScorer: Scorer = {
  name: "label-preference",
  defaultWeight: LABEL_PREFERENCE_WEIGHT,
  applies: (vm) => vm.preferences.length > 0,
  score(node, vm) {
    const ps = vm.preferences;
    if (ps.length === 0) return 100;
    let hit = 0;
    for (let i = 0; i < ps.length; i++) if (matchesLabel(ps[i]!, node.labels)) hit++;
    return (100 * hit) / ps.length;
  },
};
