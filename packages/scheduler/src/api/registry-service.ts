import type { NodeRegistryServiceServer } from "@drover/proto";
import { clusterId } from "@drover/store";
import { nodeToProto, toNodeState } from "./convert.js";
import { beatFromProto } from "./beat-from-proto.js";
import { streamHeartbeats } from "./heartbeat-stream.js";
import type { SchedulerContext } from "../context.js";
import { ValidationError } from "../errors.js";
import { acceptHeartbeat } from "../liveness/heartbeat.js";
import { registerNode } from "../nodes/register-node.js";
import { authorizeNode } from "../tls/authorize-node.js";
import { joinNode, renewCertificate } from "../tls/join-node.js";
import { validateAddress, validateLabels, validateNodeCapacity, validateNodeName } from "./validation.js";
import { schedulerUnary } from "./grpc-status.js";

export function registryService(ctx: SchedulerContext): NodeRegistryServiceServer {
  const c = ctx.config;
  const unary = schedulerUnary(ctx.log);
  // Fixed for the database's life (migration 001 draws it once).
  let cluster: Promise<string> | undefined;
  return {
    registerNode: unary(async (req, call) => {
      validateNodeName("name", req.name);
      await authorizeNode(ctx, call, req.name);
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
      return {
        node: nodeToProto(node),
        heartbeatIntervalSeconds: Math.floor(c.heartbeatIntervalMs / 1000),
        clusterId: await cluster,
        revokedSerials: await ctx.revoked.list(),
      };
    }),

    heartbeat: unary(async (req, call) => {
      const receivedAt = performance.now();
      validateNodeName("name", req.name);
      await authorizeNode(ctx, call, req.name);
      const { state, destroyVmIds } = await acceptHeartbeat(ctx, beatFromProto(req), receivedAt);
      ctx.metrics.heartbeatSeconds.observe("total", (performance.now() - receivedAt) / 1000);
      return { state: toNodeState(state), destroyVmIds, revokedSerials: await ctx.revoked.list() };
    }),

    streamHeartbeats: streamHeartbeats(ctx),

    joinNode: unary(async (req) => {
      validateNodeName("node_name", req.nodeName);
      if (!req.csrPem) throw new ValidationError("csr_pem", "is required: a PEM certificate signing request for the node's key");
      const issued = await joinNode(ctx, req);
      ctx.log(`node ${req.nodeName} joined with a join token; certificate issued`);
      return issued;
    }),

    renewCertificate: unary(async (req, call) => {
      if (!req.csrPem) throw new ValidationError("csr_pem", "is required: a PEM certificate signing request for the node's new key");
      return renewCertificate(ctx, call, req.csrPem);
    }),
  };
}
