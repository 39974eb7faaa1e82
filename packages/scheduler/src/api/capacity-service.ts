import { allocatable as allocatableOfNode } from "@drover/placement";
import type { CapacityServiceServer, NodeCapacity, Resources, VmStateCount } from "@drover/proto";
import { countVmsByNodeAndState, listNodes, type VmStateName } from "@drover/store";
import { toNodeState, toVmState } from "./convert.js";
import { NotFoundError } from "../errors.js";
import type { SchedulerContext } from "../context.js";
import { validateNodeName } from "./validation.js";
import { schedulerUnary } from "./grpc-status.js";

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

function stateCounts(m: Map<VmStateName, number>): VmStateCount[] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([state, count]) => ({ state: toVmState(state), count }));
}

export function capacityService(ctx: SchedulerContext): CapacityServiceServer {
  const unary = schedulerUnary(ctx.log);
  return {
    getCapacity: unary(async (req) => {
      if (req.node) validateNodeName("node", req.node);
      const [rows, counts] = await Promise.all([listNodes(ctx.sql), countVmsByNodeAndState(ctx.sql)]);
      const nodes = req.node ? rows.filter((r) => r.name === req.node) : rows;
      if (req.node && nodes.length === 0) throw new NotFoundError("node", req.node);

      const byNode = new Map<string, Map<VmStateName, number>>();
      for (const c of counts) {
        if (!c.node) continue;
        const m = byNode.get(c.node) ?? new Map<VmStateName, number>();
        m.set(c.state, c.count);
        byNode.set(c.node, m);
      }
      const total = { capacity: zero(), allocatable: zero(), allocated: zero(), free: zero() };
      const clusterStates = new Map<VmStateName, number>();
      const perNode: NodeCapacity[] = nodes.map((r) => {
        const allocatable = allocatableOfNode(r);
        const allocated = r.allocated;
        const free = minus(allocatable, allocated);
        const states = byNode.get(r.name) ?? new Map<VmStateName, number>();
        add(total.capacity, r.capacity);
        add(total.allocated, allocated);
        // Only READY nodes can take new VMs, so only they count as allocatable and free.
        if (r.state === "READY") {
          add(total.allocatable, allocatable);
          add(total.free, free);
        }
        return { name: r.name, state: toNodeState(r.state), capacity: r.capacity, allocatable, allocated, free, vms: stateCounts(states) };
      });
      for (const c of counts) {
        if (req.node && c.node !== req.node) continue;
        clusterStates.set(c.state, (clusterStates.get(c.state) ?? 0) + c.count);
      }
      return { ...total, vms: stateCounts(clusterStates), nodes: perNode };
    }),
  };
}
