import { freeFractionAfter, type Scorer } from "../scorer.js";

/**
 * How much an imbalance between free CPU and free memory costs. With 0.5 the score would collapse
 * to min(cpu, mem); 0.25 keeps most of the "least allocated" signal and still prefers nodes whose
 * CPU and memory drain together (kube's BalancedAllocation idea), so neither strands the other.
 */
export const SPREAD_IMBALANCE_PENALTY = 0.25;

/**
 * Least allocated after placement: 100 × (mean free fraction of CPU and memory − penalty × |cpu − mem|).
 * Disk is left out on purpose: many VMs request none and it rarely decides where a VM runs best.
 */
export const spreadScorer: Scorer = {
  name: "spread",
  score(node, vm) {
    const cpu = freeFractionAfter(node.allocCpu, node.usedCpu, vm.resources.vcpus);
    const mem = freeFractionAfter(node.allocMem, node.usedMem, vm.resources.memoryMib);
    const s = (cpu + mem) / 2 - SPREAD_IMBALANCE_PENALTY * Math.abs(cpu - mem);
    return s <= 0 ? 0 : 100 * s;
  },
};
