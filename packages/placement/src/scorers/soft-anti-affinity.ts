import type { Scorer } from "../scorer.js";

/**
 * Weight of the scorer for a VM with a soft group, unless DROVER_SCORERS names it. At 2 it outweighs
 * the strategy (weight 1): one fewer group member on a node beats any spread/pack difference short
 * of full versus empty.
 */
export const SOFT_ANTI_AFFINITY_WEIGHT = 2;

/**
 * 100 / (1 + members of vm.softAntiAffinityGroup already on the node, this batch included):
 * 100 on an empty node, 50 with one member, 33 with two, ... so sharing is allowed but the
 * least crowded node wins. No group: 100 everywhere.
 */
export const softAntiAffinityScorer: Scorer = {
  name: "soft-anti-affinity",
  defaultWeight: SOFT_ANTI_AFFINITY_WEIGHT,
  applies: (vm) => vm.softAntiAffinityGroup !== undefined && vm.softAntiAffinityGroup !== "",
  score(node, vm) {
    const g = vm.softAntiAffinityGroup;
    if (g === undefined || g === "") return 100;
    return 100 / (1 + node.groupCount(g));
  },
};
