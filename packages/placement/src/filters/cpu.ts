import { rejection, type Filter } from "../filter.js";

const REJECT = rejection("insufficient_cpu");

/** Free vCPUs (allocatable − allocated, including this batch) must cover the request. */
export const cpuFilter: Filter = {
  name: "cpu",
  applies: (vm) => vm.resources.vcpus > 0,
  filter(node, vm) {
    const need = vm.resources.vcpus;
    // A zero request never fails, even on an over-committed node: it makes nothing worse.
    return need > 0 && need > node.allocCpu - node.usedCpu ? REJECT : null;
  },
};
