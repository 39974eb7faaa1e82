import { rejection, type Filter } from "../filter.js";

const REJECT = rejection("anti_affinity");

/** Hard anti-affinity: no node that already holds a member of the group, counting this batch's placements. */
export const antiAffinityFilter: Filter<"anti_affinity"> = {
  name: "anti-affinity",
  reasons: {
    anti_affinity: { label: "anti-affinity", detail: (vm) => `group ${vm.antiAffinityGroup ?? ""}` },
  },
  applies: (vm) => vm.antiAffinityGroup !== undefined && vm.antiAffinityGroup !== "",
  filter(node, vm) {
    const g = vm.antiAffinityGroup;
    return g !== undefined && g !== "" && node.groupCount(g) > 0 ? REJECT : null;
  },
};
