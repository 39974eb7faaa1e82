import type { CapacityServiceServer, VmStateCount } from "@drover/proto";
import type { VmStateName } from "@drover/store";
import { toNodeState, toVmState } from "./convert.js";
import type { SchedulerContext } from "../context.js";
import { clusterCapacity } from "../nodes/cluster-capacity.js";
import { validateNodeName } from "./validation.js";
import { FLEET, guardedUnary } from "../auth/index.js";

function stateCounts(m: Map<VmStateName, number>): VmStateCount[] {
  return [...m].sort(([a], [b]) => (a < b ? -1 : 1)).map(([state, count]) => ({ state: toVmState(state), count }));
}

export function capacityService(ctx: SchedulerContext): CapacityServiceServer {
  const unary = guardedUnary(ctx);
  return {
    getCapacity: unary(FLEET, async (req) => {
      if (req.node) validateNodeName("node", req.node);
      const c = await clusterCapacity(ctx.sql, req.node || undefined);
      return {
        capacity: c.capacity,
        allocatable: c.allocatable,
        allocated: c.allocated,
        free: c.free,
        vms: stateCounts(c.vms),
        nodes: c.nodes.map((n) => ({ ...n, state: toNodeState(n.state), vms: stateCounts(n.vms) })),
      };
    }),
  };
}
