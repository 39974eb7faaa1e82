import { DomainState, type NodeRegistryServiceServer } from "@drover/proto";
import { clusterId } from "@drover/store";
import { nodeToProto, toNodeState } from "./convert.js";
import { ValidationError } from "../errors.js";
import type { SchedulerContext } from "../context.js";
import { acceptHeartbeat, type DomainReport } from "../liveness/heartbeat.js";
import { registerNode } from "../nodes/register-node.js";
import { validateLabels, validateNodeName } from "./validation.js";
import { schedulerUnary } from "./grpc-status.js";

const HOST_PORT = /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/;

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
      if (!HOST_PORT.test(req.address)) throw new ValidationError("address", "must be host:port of the agent's AgentService");
      const cap = req.capacity;
      if (!cap || cap.vcpus < 1 || cap.memoryMib < 1) {
        throw new ValidationError("capacity", "must report at least 1 vCPU and 1 MiB of memory");
      }
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
