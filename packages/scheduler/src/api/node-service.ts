import { NodeState, type NodeServiceServer } from "@drover/proto";
import { nodeStateName, nodeToProto } from "./convert.js";
import { NotFoundError, ValidationError } from "../errors.js";
import type { SchedulerContext } from "../context.js";
import { changeNodeState } from "../nodes/change-state.js";
import { getNodeWithVms, listNodesWithVms, type NodeWithVms } from "../nodes/read-nodes.js";
import { updateAllocation } from "../nodes/update-allocation.js";
import { validateAllocationRatios, validateNodeName } from "./validation.js";
import { FLEET, guardedUnary } from "../auth/index.js";
import { decodeNodePageToken, encodeNodePageToken } from "./page-token.js";

const PAGE_MAX = 1000;

const toWire = ({ node, vms }: NodeWithVms) => ({ node: nodeToProto(node, vms) });

export function nodeService(ctx: SchedulerContext): NodeServiceServer {
  const unary = guardedUnary(ctx);
  const byName = <R extends { name: string }>(req: R) => req.name;
  return {
    listNodes: unary(FLEET, async (req) => {
      const state = req.state === NodeState.NODE_STATE_UNSPECIFIED ? undefined : nodeStateName(req.state);
      if (req.state !== NodeState.NODE_STATE_UNSPECIFIED && !state) throw new ValidationError("state", `is not a NodeState: ${req.state}`);
      if (req.pageSize > PAGE_MAX) throw new ValidationError("page_size", `must be at most ${PAGE_MAX}, or 0 for all nodes`);
      if (req.pageToken && req.pageSize === 0) throw new ValidationError("page_token", "needs a page_size (0 lists all nodes at once)");
      const afterName = req.pageToken ? decodeNodePageToken(req.pageToken) : undefined;
      // One more than the page tells whether another page follows.
      const rows = await listNodesWithVms(ctx.sql, state, { afterName, limit: req.pageSize ? req.pageSize + 1 : undefined });
      const page = req.pageSize ? rows.slice(0, req.pageSize) : rows;
      const more = req.pageSize > 0 && rows.length > req.pageSize;
      return { nodes: page.map((n) => nodeToProto(n.node, n.vms)), nextPageToken: more ? encodeNodePageToken(page[page.length - 1]!.node.name) : "" };
    }),
    getNode: unary(FLEET, async (req) => {
      const found = await getNodeWithVms(ctx.sql, validateNodeName("name", req.name));
      if (!found) throw new NotFoundError("node", req.name);
      return toWire(found);
    }),
    cordonNode: unary(FLEET, async (req) => toWire(await changeNodeState(ctx.sql, validateNodeName("name", req.name), "CORDONED")), byName),
    uncordonNode: unary(FLEET, async (req) => toWire(await changeNodeState(ctx.sql, validateNodeName("name", req.name), "READY")), byName),
    drainNode: unary(FLEET, async (req) => toWire(await changeNodeState(ctx.sql, validateNodeName("name", req.name), "DRAINING")), byName),
    updateNode: unary(
      FLEET,
      async (req) => {
      validateNodeName("name", req.name);
      validateAllocationRatios({
        cpu_allocation_ratio: req.cpuAllocationRatio,
        memory_allocation_ratio: req.memoryAllocationRatio,
        disk_allocation_ratio: req.diskAllocationRatio,
      });
      const change = { cpuRatio: req.cpuAllocationRatio, memoryRatio: req.memoryAllocationRatio, diskRatio: req.diskAllocationRatio, reserved: req.reserved };
      return toWire(await updateAllocation(ctx.sql, req.name, change));
      },
      byName,
    ),
  };
}
