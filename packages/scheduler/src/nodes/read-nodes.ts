import { countVmsByNodeAndState, getNode, listNodes, type Db, type Node, type NodeStateName } from "@drover/store";

/** A node with the number of VMs it holds (deleted ones not counted), as NodeService answers it. */
export interface NodeWithVms {
  node: Node;
  vms: number;
}

async function vmCounts(db: Db): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const c of await countVmsByNodeAndState(db)) {
    if (c.node) counts.set(c.node, (counts.get(c.node) ?? 0) + c.count);
  }
  return counts;
}

/** The node with its VM count; null when unknown. */
export async function withVmCount(db: Db, node: Node | null): Promise<NodeWithVms | null> {
  return node ? { node, vms: (await vmCounts(db)).get(node.name) ?? 0 } : null;
}

export async function getNodeWithVms(db: Db, name: string): Promise<NodeWithVms | null> {
  return withVmCount(db, await getNode(db, name));
}

export async function listNodesWithVms(db: Db, state?: NodeStateName, page: { afterName?: string; limit?: number } = {}): Promise<NodeWithVms[]> {
  const [rows, counts] = await Promise.all([listNodes(db, state, page), vmCounts(db)]);
  return rows.map((node) => ({ node, vms: counts.get(node.name) ?? 0 }));
}
