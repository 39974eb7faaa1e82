import { rejection, type Filter } from "../filter.js";

const REJECT = rejection("affinity");

/**
 * Hard affinity: once any member of the group exists (before or earlier in this batch),
 * only its anchor node qualifies. The first member of a new group may go anywhere.
 */
export const affinityFilter: Filter<"affinity"> = {
  name: "affinity",
  reasons: {
    affinity: {
      label: "affinity",
      detail(vm, _rejected, state) {
        const g = vm.affinityGroup ?? "";
        const anchor = state.affinityAnchor.get(g);
        return anchor ? `group ${g} is on ${anchor.name}` : `group ${g}`;
      },
    },
  },
  applies: (vm) => vm.affinityGroup !== undefined && vm.affinityGroup !== "",
  filter(node, vm, state) {
    const g = vm.affinityGroup;
    if (g === undefined || g === "") return null;
    const anchor = state.affinityAnchor.get(g);
    return anchor === undefined || anchor === node ? null : REJECT;
  },
};
