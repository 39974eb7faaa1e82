import type { NodeSnapshot } from "@drover/placement";
import { groupMembersByNode, listNodes, type Db } from "@drover/store";

/**
 * Reads every node and, for the groups the request names, how many members
 * each node already holds: the engine's whole view of the cluster.
 */
export async function takeSnapshot(db: Db, groups: string[], exclude: readonly string[] = []): Promise<NodeSnapshot[]> {
  const [rows, members] = await Promise.all([listNodes(db), groupMembersByNode(db, groups)]);
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
      capacity: { vcpus: r.vcpus, memoryMib: r.memory_mib, diskGib: r.disk_gib },
      reserved: { vcpus: r.reserved_vcpus, memoryMib: r.reserved_memory_mib, diskGib: r.reserved_disk_gib },
      ratios: { cpu: r.cpu_ratio, memory: r.memory_ratio, disk: r.disk_ratio },
      allocated: { vcpus: r.alloc_vcpus, memoryMib: r.alloc_memory_mib, diskGib: r.alloc_disk_gib },
      labels: r.labels,
      groups: byNode.get(r.name) ?? {},
    }));
}
