import { freeFractionAfter, type Scorer } from "../scorer.js";

/**
 * Most allocated after placement (best fit): 100 × mean used fraction of CPU and memory.
 * Filling the fullest node that still fits keeps whole hosts free for large VMs.
 */
export const packScorer: Scorer = {
  name: "pack",
  score(node, vm) {
    const cpu = freeFractionAfter(node.allocCpu, node.usedCpu, vm.resources.vcpus);
    const mem = freeFractionAfter(node.allocMem, node.usedMem, vm.resources.memoryMib);
    return 100 * (1 - (cpu + mem) / 2);
  },
};
