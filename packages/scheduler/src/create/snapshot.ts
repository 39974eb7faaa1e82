import type { NodeSnapshot } from "@drover/placement";
import { groupMembersByNode, listNodeCapacities, type Db } from "@drover/store";

/**
 * Reads every node and, for the groups the request names, how many members
 * each node already holds: the engine's whole view of the cluster.
 */
export async function takeSnapshot(db: Db, groups: string[], exclude: readonly string[] = []): Promise<NodeSnapshot[]> {
  const [rows, members] = await Promise.all([listNodeCapacities(db), groupMembersByNode(db, groups)]);
  const byNode = new Map<string, Record<string, number>>();
  for (const m of members) {
    const g = byNode.get(m.node) ?? {};
    g[m.group] = m.count;
    byNode.set(m.node, g);
  }
  const skip = new Set(exclude);
  return rows
    .filter((r) => !skip.has(r.name))
    .map((r) => ({
      name: r.name,
      state: r.state,
      capacity: r.capacity,
      reserved: r.reserved,
      ratios: r.ratios,
      allocated: r.allocated,
      labels: r.labels,
      groups: byNode.get(r.name) ?? {},
    }));
}
