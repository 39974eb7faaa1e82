import { DomainState, type NodeRegistryServiceServer } from "@drover/proto";
import { nodeToProto, reconcileDomainStates, strayDomains, toNodeState, upsertNode } from "@drover/store";
import { invalidArgument, notFound } from "./errors.js";
import type { SchedulerContext } from "../context.js";
import { isUuid, validateLabels, validateNodeName } from "./validation.js";
import { unary } from "./unary.js";

const HOST_PORT = /^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/;

export function registryService(ctx: SchedulerContext): NodeRegistryServiceServer {
  const c = ctx.config;
  return {
    registerNode: unary(async (req) => {
      validateNodeName("name", req.name);
      if (!HOST_PORT.test(req.address)) throw invalidArgument("address", "must be host:port of the agent's AgentService");
      const cap = req.capacity;
      if (!cap || cap.vcpus < 1 || cap.memoryMib < 1) {
        throw invalidArgument("capacity", "must report at least 1 vCPU and 1 MiB of memory");
      }
      validateLabels("labels", req.labels);
      const { node } = await ctx.sql.begin((tx) =>
        upsertNode(
          tx,
          { name: req.name, address: req.address, vcpus: cap.vcpus, memoryMib: cap.memoryMib, diskGib: cap.diskGib, labels: req.labels },
          {
            cpuRatio: c.cpuAllocationRatio,
            memoryRatio: c.memoryAllocationRatio,
            diskRatio: c.diskAllocationRatio,
            reservedVcpus: c.reservedVcpus,
            reservedMemoryMib: c.reservedMemoryMib,
            reservedDiskGib: c.reservedDiskGib,
          },
        ),
      );
      ctx.log(`node ${node.name} registered at ${node.address}: ${node.vcpus} vCPUs, ${node.memory_mib} MiB, ${node.disk_gib} GiB`);
      return { node: nodeToProto(node), heartbeatIntervalSeconds: c.heartbeatIntervalSeconds };
    }),

    heartbeat: unary(async (req) => {
      validateNodeName("name", req.name);
      const state = await ctx.heartbeats.record(req.name);
      if (state === null) throw notFound(`node ${req.name} (register it first)`);
      const domains = req.domains
        .filter((d) => d.state === DomainState.DOMAIN_STATE_RUNNING || d.state === DomainState.DOMAIN_STATE_SHUTOFF)
        .map((d) => ({ vmId: d.vmId.toLowerCase(), running: d.state === DomainState.DOMAIN_STATE_RUNNING }));
      await reconcileDomainStates(ctx.sql, req.name, domains);
      const ids = req.domains.map((d) => d.vmId.toLowerCase()).filter(isUuid);
      const destroyVmIds = await strayDomains(ctx.sql, req.name, ids);
      if (destroyVmIds.length > 0) ctx.log(`node ${req.name}: asking to destroy stray domains ${destroyVmIds.join(", ")}`);
      return { state: toNodeState(state), destroyVmIds };
    }),
  };
}
