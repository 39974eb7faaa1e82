import { getNode, updateNodeAllocation, type AllocationChange, type Sql } from "@drover/store";
import { NotFoundError, ValidationError } from "../errors.js";
import { withVmCount, type NodeWithVms } from "./read-nodes.js";

/**
 * Sets a node's allocation ratios and reservations (validated by the handler). A reservation
 * cannot exceed the node's capacity, which only the node's row knows.
 */
export async function updateAllocation(sql: Sql, name: string, change: AllocationChange): Promise<NodeWithVms> {
  const node = await getNode(sql, name);
  if (!node) throw new NotFoundError("node", name);
  const r = change.reserved;
  if (r) {
    for (const [field, v, cap] of [
      ["reserved.vcpus", r.vcpus, node.capacity.vcpus],
      ["reserved.memory_mib", r.memoryMib, node.capacity.memoryMib],
      ["reserved.disk_gib", r.diskGib, node.capacity.diskGib],
    ] as const) {
      if (!Number.isSafeInteger(v) || v < 0 || v > cap) throw new ValidationError(field, `must be from 0 to the node's ${cap}, got ${v}`);
    }
  }
  const updated = await withVmCount(sql, await updateNodeAllocation(sql, name, change));
  if (!updated) throw new NotFoundError("node", name);
  return updated;
}
