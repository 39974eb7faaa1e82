import { upsertNode, type NodeRegistration, type Node, type Sql } from "@drover/store";
import type { SchedulerConfig } from "../config.js";

/**
 * Registers a node or refreshes its row (an agent registers again after a restart). A new node
 * gets the configured allocation ratios and reservations; a known one keeps its own.
 */
export async function registerNode(sql: Sql, c: SchedulerConfig, reg: NodeRegistration): Promise<Node> {
  const { node } = await sql.begin((tx) =>
    upsertNode(tx, reg, {
      cpuRatio: c.cpuAllocationRatio,
      memoryRatio: c.memoryAllocationRatio,
      diskRatio: c.diskAllocationRatio,
      reservedVcpus: c.reservedVcpus,
      reservedMemoryMib: c.reservedMemoryMib,
      reservedDiskGib: c.reservedDiskGib,
    }),
  );
  return node;
}
