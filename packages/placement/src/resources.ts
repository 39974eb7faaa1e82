import type { NodeSnapshot, Resources } from "./types.js";

/**
 * What the node may hand out: per resource `floor(capacity × ratio) − reserved`, never below 0.
 * This is the one TypeScript definition (the scheduler's API and metrics use it too). The store's
 * claim SQL (`claimUpdate` in packages/store/src/claims.ts) computes the same in Postgres, with
 * ratios as double precision, so both must round identically: keep the plain IEEE multiply here.
 * packages/scheduler/src/create/allocatable-sql.property.test.ts holds the two to the same numbers.
 */
export function allocatable(node: Pick<NodeSnapshot, "capacity" | "ratios" | "reserved">): Resources {
  return {
    vcpus: allocatableOf(node.capacity.vcpus, node.ratios.cpu, node.reserved.vcpus),
    memoryMib: allocatableOf(node.capacity.memoryMib, node.ratios.memory, node.reserved.memoryMib),
    diskGib: allocatableOf(node.capacity.diskGib, node.ratios.disk, node.reserved.diskGib),
  };
}

/** `allocatable − allocated`, never below 0 (a node whose ratios were lowered can be over-committed). */
export function free(node: NodeSnapshot): Resources {
  const a = allocatable(node);
  return {
    vcpus: Math.max(0, a.vcpus - node.allocated.vcpus),
    memoryMib: Math.max(0, a.memoryMib - node.allocated.memoryMib),
    diskGib: Math.max(0, a.diskGib - node.allocated.diskGib),
  };
}

/** One resource of {@link allocatable}; exported so the hot path can avoid building objects. */
export function allocatableOf(capacity: number, ratio: number, reserved: number): number {
  return Math.max(0, Math.floor(capacity * ratio) - reserved);
}
