import type { Scorer } from "../scorer.js";

/**
 * 100 / (1 + members of vm.softAntiAffinityGroup already on the node, this batch included):
 * 100 on an empty node, 50 with one member, 33 with two, ... so sharing is allowed but the
 * least crowded node wins. No group: 100 everywhere.
 */
export const softAntiAffinityScorer: Scorer = {
  name: "soft-anti-affinity",
  score(node, vm) {
    const g = vm.softAntiAffinityGroup;
    if (g === undefined || g === "") return 100;
    return 100 / (1 + node.groupCount(g));
  },
};
