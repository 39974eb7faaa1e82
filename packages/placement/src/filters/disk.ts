import { largestAmong, rejection, type Filter } from "../filter.js";

const REJECT = rejection("insufficient_disk");

/** Free disk (allocatable − allocated, including this batch) must cover the request; 0 GiB always fits. */
export const diskFilter: Filter<"insufficient_disk"> = {
  name: "disk",
  reasons: {
    insufficient_disk: {
      label: "insufficient disk",
      detail: (vm, rejected) => `need ${vm.resources.diskGib} GiB, largest free among them ${largestAmong(rejected, (n) => n.freeDisk())} GiB`,
    },
  },
  applies: (vm) => vm.resources.diskGib > 0,
  filter(node, vm) {
    const need = vm.resources.diskGib;
    return need > 0 && need > node.allocDisk - node.usedDisk ? REJECT : null;
  },
};
