import { DomainState, VmSpec, type DomainStatus } from "@drover/proto";
import { getImage, getNode, recordReportGeneration, transitionVm, type Sql, type Vm, type VmStateName } from "@drover/store";
import { imageToProto } from "../api/catalog-service.js";
import type { SchedulerConfig } from "../config.js";
import { agentCallError, type AgentClients, type AgentTarget } from "../dispatch/agent-clients.js";
import { AgentCallError, NodeDownError, WrongStateError } from "../errors.js";
import { mustGetVm } from "./read-vm.js";

export interface PowerDeps {
  sql: Sql;
  agents: AgentClients;
  config: Pick<SchedulerConfig, "stopTimeoutMs">;
}

/** States StartVm starts from (a STOPPING VM is kept running: the stop is abandoned). */
const STARTABLE: VmStateName[] = ["STOPPED", "CRASHED", "PAUSED", "STOPPING"];

/**
 * Starts (or resumes) the VM's domain on its node; a RUNNING VM is left as it is. A domain that is
 * gone from its node (destroyed and undefined outside Drover) is created again from the VM's spec:
 * a VM Drover has is never NOT_FOUND here. A user's start also clears the crash count.
 */
export async function startVm(deps: PowerDeps, id: string): Promise<Vm> {
  const vm = await mustGetVm(deps.sql, id);
  if (vm.state === "RUNNING") return vm;
  const agent = await agentOf(deps, vm, STARTABLE);
  const domain = await callAgent(agent.name, async () => {
    try {
      return await deps.agents.startDomain(agent, vm.id);
    } catch (err) {
      if (!(agentCallError(agent.name, err).failure === "not-found")) throw err;
      return recreate(deps, agent, vm);
    }
  });
  // The answer's generation makes heartbeats taken before the start stale.
  const reportGeneration = domain?.generation ?? 0;
  return (await transitionVm(deps.sql, vm.id, STARTABLE, "RUNNING", { reason: "", reportGeneration, resetCrashes: true })) ?? vm;
}

/** EnsureDomain with the VM's spec: defines and starts its domain anew. */
async function recreate(deps: PowerDeps, agent: AgentTarget, vm: Vm): Promise<DomainStatus | undefined> {
  const spec = VmSpec.fromJSON(vm.spec);
  const image = spec.image ? await getImage(deps.sql, spec.image) : undefined;
  return deps.agents.ensureDomain(agent, { vmId: vm.id, spec, ...(image ? { image: imageToProto(image) } : {}) });
}

/**
 * Stops the VM's domain. A graceful stop presses the ACPI button and leaves the VM STOPPING until
 * the guest is really off (a heartbeat says so; the agent records the power-off when it happens),
 * then STOPPED; a guest still on after stopTimeoutMs makes it RUNNING again with the reason
 * (vm-timers.ts). A forced stop powers the domain off whatever the VM's state says, STOPPED
 * included: the domain may run although an earlier report said otherwise.
 */
export async function stopVm(deps: PowerDeps, id: string, force: boolean): Promise<Vm> {
  const vm = await mustGetVm(deps.sql, id);
  if (!force && vm.state === "STOPPED") return vm;
  const from: VmStateName[] = force ? ["RUNNING", "STOPPING", "PAUSED", "CRASHED", "STOPPED"] : ["RUNNING", "STOPPING", "PAUSED", "CRASHED"];
  const agent = await agentOf(deps, vm, from);
  const domain = await callAgent(agent.name, async () => {
    try {
      return await deps.agents.stopDomain(agent, vm.id, force);
    } catch (err) {
      // No domain is a stopped one (heartbeats tell the scheduler it vanished).
      if (agentCallError(agent.name, err).failure === "not-found") return undefined;
      throw err;
    }
  });
  // The answer's generation makes heartbeats taken before the stop stale: they cannot set it back to RUNNING.
  const reportGeneration = domain?.generation ?? 0;
  if (vm.state === "STOPPED") {
    await recordReportGeneration(deps.sql, vm.id, reportGeneration);
    return mustGetVm(deps.sql, id);
  }
  const off = !domain || domain.state === DomainState.DOMAIN_STATE_SHUTOFF || domain.state === DomainState.DOMAIN_STATE_CRASHED;
  if (off) return (await transitionVm(deps.sql, vm.id, from, "STOPPED", { reason: "", reportGeneration, resetCrashes: true })) ?? vm;
  // Still on after the ACPI button: STOPPING until the guest is off, or until the deadline.
  const dueAt = vm.state === "STOPPING" ? vm.dueAt : new Date(Date.now() + deps.config.stopTimeoutMs);
  return (await transitionVm(deps.sql, vm.id, from, "STOPPING", { reason: "", reportGeneration, dueAt, resetCrashes: true })) ?? vm;
}

/** Reboots a RUNNING VM's domain; its state stays RUNNING. */
export async function rebootVm(deps: PowerDeps, id: string): Promise<Vm> {
  const vm = await mustGetVm(deps.sql, id);
  const agent = await agentOf(deps, vm, ["RUNNING"]);
  await callAgent(agent.name, () => deps.agents.rebootDomain(agent, vm.id));
  return vm;
}

/** The node's agent address, or a clear error when the VM cannot be reached. */
export async function agentOf(deps: Pick<PowerDeps, "sql">, vm: Vm, allowed: VmStateName[]): Promise<{ name: string; address: string }> {
  if (!allowed.includes(vm.state)) {
    throw new WrongStateError(`vm ${vm.id} is ${vm.state}; this needs it to be ${allowed.join(" or ")}`);
  }
  const node = vm.node ? await getNode(deps.sql, vm.node) : null;
  if (!node) throw new WrongStateError(`vm ${vm.id} has no node`);
  if (node.state === "DOWN") throw new NodeDownError(node.name);
  if (node.state === "DEGRADED") throw new WrongStateError(`node ${node.name} is DEGRADED (${node.reason}); try again once it is READY`);
  return { name: node.name, address: node.address };
}

/** Agent failures reach the client naming the node, keeping the agent's message. */
async function callAgent<T>(node: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof AgentCallError ? err : agentCallError(node, err);
  }
}
