import { DomainState, type NodeRegistryServiceServer } from "@drover/proto";
import { clusterId } from "@drover/store";
import { interfaceFromProto, nodeToProto, toNodeState } from "./convert.js";
import type { SchedulerContext } from "../context.js";
import { ValidationError } from "../errors.js";
import { acceptHeartbeat, type DomainReport } from "../liveness/heartbeat.js";
import { registerNode } from "../nodes/register-node.js";
import { authorizeNode } from "../tls/authorize-node.js";
import { joinNode, renewCertificate } from "../tls/join-node.js";
import { validateAddress, validateLabels, validateNodeCapacity, validateNodeName } from "./validation.js";
import { schedulerUnary } from "./grpc-status.js";

function domainState(s: DomainState): DomainReport["state"] {
  switch (s) {
    case DomainState.DOMAIN_STATE_RUNNING:
      return "running";
    case DomainState.DOMAIN_STATE_SHUTOFF:
      return "shutoff";
    case DomainState.DOMAIN_STATE_PAUSED:
      return "paused";
    case DomainState.DOMAIN_STATE_CRASHED:
      return "crashed";
    case DomainState.DOMAIN_STATE_OTHER:
    case DomainState.DOMAIN_STATE_UNSPECIFIED:
    case DomainState.UNRECOGNIZED:
      return "other";
  }
  // An unknown number off the wire (the decoder keeps it as sent).
  return "other";
}

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
      const domains = req.domains.map((d) => ({
        vmId: d.vmId,
        state: domainState(d.state),
        // Told to operators in the VM's reason: printable and bounded.
        reason: d.reason.replace(/[^\x20-\x7e]/g, "?").slice(0, 200),
        generation: d.generation,
        interfaces: d.reportInterfaces ? d.interfaces.map(interfaceFromProto) : undefined,
      }));
      const beat = { name: req.name, bootId: req.bootId, seq: req.seq, domains, libvirtUnavailable: req.libvirtUnavailable };
      const { state, destroyVmIds } = await acceptHeartbeat(ctx, beat, receivedAt);
      ctx.metrics.heartbeatSeconds.observe({ stage: "total" }, (performance.now() - receivedAt) / 1000);
      return { state: toNodeState(state), destroyVmIds, revokedSerials: await ctx.revoked.list() };
    }),

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
