import { NodeState, type NodeServiceServer } from "@drover/proto";
import {
  countVmsByNodeAndState,
  getNode,
  listNodes,
  nodeStateName,
  nodeToProto,
  setNodeState,
  updateNodeAllocation,
  type NodeStateName,
} from "@drover/store";
import { failedPrecondition, invalidArgument, notFound } from "./errors.js";
import type { SchedulerContext } from "../context.js";
import { validateNodeName } from "./validation.js";
import { unary } from "./unary.js";

async function vmCounts(ctx: SchedulerContext): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (const c of await countVmsByNodeAndState(ctx.sql)) {
    if (c.node) counts.set(c.node, (counts.get(c.node) ?? 0) + c.count);
  }
  return counts;
}

/**
 * Operator state changes. DOWN is the liveness monitor's alone: a DOWN node
 * comes back by heartbeating, so uncordoning it is refused.
 */
async function changeState(ctx: SchedulerContext, name: string, to: NodeStateName) {
  validateNodeName("name", name);
  const current = await getNode(ctx.sql, name);
  if (!current) throw notFound(`node ${name}`);
  if (current.state === "DOWN") {
    throw failedPrecondition(`node ${name} is DOWN; it becomes READY when its agent heartbeats again`);
  }
  const changed = await setNodeState(ctx.sql, name, to);
  if (!changed) throw notFound(`node ${name}`);
  return { node: nodeToProto(changed.node, (await vmCounts(ctx)).get(name) ?? 0) };
}

export function nodeService(ctx: SchedulerContext): NodeServiceServer {
  return {
    listNodes: unary(async (req) => {
      const state = req.state === NodeState.NODE_STATE_UNSPECIFIED ? undefined : nodeStateName(req.state);
      if (req.state !== NodeState.NODE_STATE_UNSPECIFIED && !state) throw invalidArgument("state", "is not a NodeState");
      const [rows, counts] = await Promise.all([listNodes(ctx.sql, state), vmCounts(ctx)]);
      return { nodes: rows.map((r) => nodeToProto(r, counts.get(r.name) ?? 0)) };
    }),
    getNode: unary(async (req) => {
      validateNodeName("name", req.name);
      const row = await getNode(ctx.sql, req.name);
      if (!row) throw notFound(`node ${req.name}`);
      return { node: nodeToProto(row, (await vmCounts(ctx)).get(row.name) ?? 0) };
    }),
    cordonNode: unary(async (req) => changeState(ctx, req.name, "CORDONED")),
    uncordonNode: unary(async (req) => changeState(ctx, req.name, "READY")),
    drainNode: unary(async (req) => changeState(ctx, req.name, "DRAINING")),
    updateNode: unary(async (req) => {
      validateNodeName("name", req.name);
      const node = await getNode(ctx.sql, req.name);
      if (!node) throw notFound(`node ${req.name}`);
      for (const [field, v] of [
        ["cpu_allocation_ratio", req.cpuAllocationRatio],
        ["memory_allocation_ratio", req.memoryAllocationRatio],
        ["disk_allocation_ratio", req.diskAllocationRatio],
      ] as const) {
        if (v !== undefined && !(v > 0 && v <= 1000)) throw invalidArgument(field, `must be above 0 and at most 1000, got ${v}`);
      }
      const r = req.reserved;
      if (r) {
        for (const [field, v, cap] of [
          ["reserved.vcpus", r.vcpus, node.vcpus],
          ["reserved.memory_mib", r.memoryMib, node.memory_mib],
          ["reserved.disk_gib", r.diskGib, node.disk_gib],
        ] as const) {
          if (!Number.isSafeInteger(v) || v < 0 || v > cap) throw invalidArgument(field, `must be from 0 to the node's ${cap}, got ${v}`);
        }
      }
      const row = await updateNodeAllocation(ctx.sql, req.name, {
        cpuRatio: req.cpuAllocationRatio,
        memoryRatio: req.memoryAllocationRatio,
        diskRatio: req.diskAllocationRatio,
        reserved: r,
      });
      if (!row) throw notFound(`node ${req.name}`);
      return { node: nodeToProto(row, (await vmCounts(ctx)).get(row.name) ?? 0) };
    }),
  };
}
