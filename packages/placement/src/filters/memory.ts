import { rejection, type Filter } from "../filter.js";

const REJECT = rejection("insufficient_memory");

/** Free memory (allocatable − allocated, including this batch) must cover the request. */
export const memoryFilter: Filter = {
  name: "memory",
  applies: (vm) => vm.resources.memoryMib > 0,
  filter(node, vm) {
    const need = vm.resources.memoryMib;
    return need > 0 && need > node.allocMem - node.usedMem ? REJECT : null;
  },
};
