import { allocatable } from "@drover/placement";
import { upsertNode, type NodeRegistration, type Node, type Sql, transaction } from "@drover/store";
import type { SchedulerConfig } from "../config.js";
import { CapacityBelowClaimsError } from "../errors.js";

/**
 * Registers a node or refreshes its row (an agent registers again after a restart). A new node
 * gets the configured allocation ratios and reservations; a known one keeps its own. A capacity
 * that would leave the node's claims past allocatable is refused, and the row stays as it was:
 * claims only ever fit, and a shrunken host is an operator's call (delete VMs, change ratios).
 */
export async function registerNode(sql: Sql, c: SchedulerConfig, reg: NodeRegistration): Promise<Node> {
  return transaction(sql, async (tx) => {
    const { node } = await upsertNode(tx, reg, {
      cpuRatio: c.cpuAllocationRatio,
      memoryRatio: c.memoryAllocationRatio,
      diskRatio: c.diskAllocationRatio,
      reservedVcpus: c.reservedVcpus,
      reservedMemoryMib: c.reservedMemoryMib,
      reservedDiskGib: c.reservedDiskGib,
    });
    const shortfalls = claimsPastAllocatable(node);
    if (shortfalls.length > 0) throw new CapacityBelowClaimsError(node.name, shortfalls);
    return node;
  });
}

/** Each resource whose claims exceed allocatable, as "vcpus: 12 claimed, 1 allocatable". */
export function claimsPastAllocatable(node: Node): string[] {
  const a = allocatable(node);
  return (["vcpus", "memoryMib", "diskGib"] as const)
    .filter((r) => node.allocated[r] > a[r])
    .map((r) => `${r}: ${node.allocated[r]} claimed, ${a[r]} allocatable`);
}
