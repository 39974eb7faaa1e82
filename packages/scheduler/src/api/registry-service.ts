import { DomainState, type NodeRegistryServiceServer } from "@drover/proto";
import { clusterId } from "@drover/store";
import { nodeToProto, toNodeState } from "./convert.js";
import type { SchedulerContext } from "../context.js";
import { acceptHeartbeat, type DomainReport } from "../liveness/heartbeat.js";
import { registerNode } from "../nodes/register-node.js";
import { validateAddress, validateLabels, validateNodeCapacity, validateNodeName } from "./validation.js";
import { schedulerUnary } from "./grpc-status.js";

const domainState = (s: DomainState): DomainReport["state"] =>
  s === DomainState.DOMAIN_STATE_RUNNING ? "running" : s === DomainState.DOMAIN_STATE_SHUTOFF ? "shutoff" : "other";

export function registryService(ctx: SchedulerContext): NodeRegistryServiceServer {
  const c = ctx.config;
  const unary = schedulerUnary(ctx.log);
  // Fixed for the database's life (migration 001 draws it once).
  let cluster: Promise<string> | undefined;
  return {
    registerNode: unary(async (req) => {
      validateNodeName("name", req.name);
      validateAddress("address", req.address);
      validateNodeCapacity("capacity", req.capacity);
      const cap = req.capacity!;
      validateLabels("labels", req.labels);
      const reg = { name: req.name, address: req.address, vcpus: cap.vcpus, memoryMib: cap.memoryMib, diskGib: cap.diskGib, labels: req.labels };
      const node = await registerNode(ctx.sql, c, reg);
      ctx.log(`node ${node.name} registered at ${node.address}: ${node.capacity.vcpus} vCPUs, ${node.capacity.memoryMib} MiB, ${node.capacity.diskGib} GiB`);
      cluster ??= clusterId(ctx.sql).catch((err: unknown) => {
        cluster = undefined;
        throw err;
      });
      return { node: nodeToProto(node), heartbeatIntervalSeconds: Math.floor(c.heartbeatIntervalMs / 1000), clusterId: await cluster };
    }),

    heartbeat: unary(async (req) => {
      validateNodeName("name", req.name);
      const domains = req.domains.map((d) => ({ vmId: d.vmId, state: domainState(d.state) }));
      const { state, destroyVmIds } = await acceptHeartbeat(ctx, req.name, domains);
      return { state: toNodeState(state), destroyVmIds };
    }),
  };
}
