import { largestAmong, rejection, type Filter } from "../filter.js";

const REJECT = rejection("insufficient_memory");

/** Free memory (allocatable − allocated, including this batch) must cover the request. */
export const memoryFilter: Filter<"insufficient_memory"> = {
  name: "memory",
  reasons: {
    insufficient_memory: {
      label: "insufficient memory",
      detail: (vm, rejected) => `need ${vm.resources.memoryMib} MiB, largest free among them ${largestAmong(rejected, (n) => n.freeMem())} MiB`,
    },
  },
  applies: (vm) => vm.resources.memoryMib > 0,
  filter(node, vm) {
    const need = vm.resources.memoryMib;
    return need > 0 && need > node.allocMem - node.usedMem ? REJECT : null;
  },
};
