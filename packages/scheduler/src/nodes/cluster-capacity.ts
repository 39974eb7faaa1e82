import { allocatable as allocatableOf, type Resources } from "@drover/placement";
import { countVmsByNodeAndState, listNodes, type Db, type NodeStateName, type VmStateName } from "@drover/store";
import { NotFoundError } from "../errors.js";

/** Capacity, what of it may be allocated, what is, and what is left. */
export interface Amounts {
  capacity: Resources;
  allocatable: Resources;
  allocated: Resources;
  free: Resources;
}

export interface NodeCapacity extends Amounts {
  name: string;
  state: NodeStateName;
  /** VMs on the node by state (deleted ones not counted). */
  vms: Map<VmStateName, number>;
}

/** The cluster's totals (or one node's, when asked for), with each node's own. */
export interface ClusterCapacity extends Amounts {
  vms: Map<VmStateName, number>;
  nodes: NodeCapacity[];
}

const zero = (): Resources => ({ vcpus: 0, memoryMib: 0, diskGib: 0 });
const add = (a: Resources, b: Resources) => {
  a.vcpus += b.vcpus;
  a.memoryMib += b.memoryMib;
  a.diskGib += b.diskGib;
};
const minus = (a: Resources, b: Resources): Resources => ({
  vcpus: Math.max(0, a.vcpus - b.vcpus),
  memoryMib: Math.max(0, a.memoryMib - b.memoryMib),
  diskGib: Math.max(0, a.diskGib - b.diskGib),
});

/** What GetCapacity answers: every node's amounts and VM counts, and their sums. NotFoundError for an unknown `node`. */
export async function clusterCapacity(db: Db, node?: string): Promise<ClusterCapacity> {
  const [rows, counts] = await Promise.all([listNodes(db), countVmsByNodeAndState(db)]);
  const nodes = node ? rows.filter((r) => r.name === node) : rows;
  if (node && nodes.length === 0) throw new NotFoundError("node", node);

  const byNode = new Map<string, Map<VmStateName, number>>();
  for (const c of counts) {
    if (!c.node) continue;
    const m = byNode.get(c.node) ?? new Map<VmStateName, number>();
    m.set(c.state, c.count);
    byNode.set(c.node, m);
  }
  const total = { capacity: zero(), allocatable: zero(), allocated: zero(), free: zero() };
  const perNode: NodeCapacity[] = nodes.map((r) => {
    const allocatable = allocatableOf(r);
    const allocated = r.allocated;
    const free = minus(allocatable, allocated);
    add(total.capacity, r.capacity);
    add(total.allocated, allocated);
    // Only READY nodes can take new VMs, so only they count as allocatable and free.
    if (r.state === "READY") {
      add(total.allocatable, allocatable);
      add(total.free, free);
    }
    return { name: r.name, state: r.state, capacity: r.capacity, allocatable, allocated, free, vms: byNode.get(r.name) ?? new Map() };
  });
  const clusterStates = new Map<VmStateName, number>();
  for (const c of counts) {
    if (node && c.node !== node) continue;
    clusterStates.set(c.state, (clusterStates.get(c.state) ?? 0) + c.count);
  }
  return { ...total, vms: clusterStates, nodes: perNode };
}
