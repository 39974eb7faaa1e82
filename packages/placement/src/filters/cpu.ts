import { largestAmong, rejection, type Filter } from "../filter.js";

const REJECT = rejection("insufficient_cpu");

const vcpus = (n: number) => `${n} ${n === 1 ? "vCPU" : "vCPUs"}`;

/** Free vCPUs (allocatable − allocated, including this batch) must cover the request. */
export const cpuFilter: Filter<"insufficient_cpu"> = {
  name: "cpu",
  reasons: {
    insufficient_cpu: {
      label: "insufficient cpu",
      detail: (vm, rejected) => `need ${vcpus(vm.resources.vcpus)}, largest free among them ${vcpus(largestAmong(rejected, (n) => n.freeCpu()))}`,
    },
  },
  applies: (vm) => vm.resources.vcpus > 0,
  filter(node, vm) {
    const need = vm.resources.vcpus;
    // A zero request never fails, even on an over-committed node: it makes nothing worse.
    return need > 0 && need > node.allocCpu - node.usedCpu ? REJECT : null;
  },
};
