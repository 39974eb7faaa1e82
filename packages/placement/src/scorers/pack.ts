import { freeFractionAfter, type Scorer } from "../scorer.js";

/**
 * Best fit's score: 100 × mean used fraction of CPU and memory once `need` is added. The one
 * definition, shared by the scorer and the pack refinement's numeric model (pack/model.ts).
 */
export function packScore(allocCpu: number, usedCpu: number, needCpu: number, allocMem: number, usedMem: number, needMem: number): number {
  const cpu = freeFractionAfter(allocCpu, usedCpu, needCpu);
  const mem = freeFractionAfter(allocMem, usedMem, needMem);
  return 100 * (1 - (cpu + mem) / 2);
}

/**
 * Most allocated after placement (best fit): 100 × mean used fraction of CPU and memory.
 * Filling the fullest node that still fits keeps whole hosts free for large VMs.
 */
export const packScorer: Scorer = {
  name: "pack",
  score(node, vm) {
    return packScore(node.allocCpu, node.usedCpu, vm.resources.vcpus, node.allocMem, node.usedMem, vm.resources.memoryMib);
  },
};
