import type { NodeList, NodeSnapshot } from "@drover/placement";
import type { GroupMembers } from "./group-cache.js";

/**
 * Runs `place` on `nodes` with the groups' members laid over the nodes that hold them (`index`:
 * node name -> position in the list), then puts the snapshots back. `place` must be synchronous:
 * for its duration the list holds snapshots that count the groups (new objects, so the engine's
 * input stays immutable), and nothing else can see them. Costs one object per node with members
 * of these groups, never one per node: a request reads only what its groups need.
 */
export function withGroups<T>(nodes: NodeList, index: ReadonlyMap<string, number>, groups: ReadonlyMap<string, GroupMembers>, place: (nodes: NodeList) => T): T {
  const counts = new Map<number, Record<string, number>>();
  for (const [g, members] of groups) {
    for (const [node, count] of members) {
      const i = index.get(node);
      if (i === undefined || !(count > 0)) continue;
      let c = counts.get(i);
      if (!c) counts.set(i, (c = {}));
      c[g] = count;
    }
  }
  const saved: [number, NodeSnapshot][] = [];
  try {
    for (const [i, c] of counts) {
      const node = nodes.snapshots[i]!;
      saved.push([i, node]);
      nodes.set(i, { ...node, groups: { ...node.groups, ...c } });
    }
    return place(nodes);
  } finally {
    for (const [i, node] of saved) nodes.set(i, node);
  }
}
