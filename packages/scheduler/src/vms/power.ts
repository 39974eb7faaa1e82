import { getNode, transitionVm, type Sql, type Vm, type VmStateName } from "@drover/store";
import { agentCallError, type AgentClients } from "../dispatch/agent-clients.js";
import { NodeDownError, WrongStateError } from "../errors.js";
import { mustGetVm } from "./read-vm.js";

export interface PowerDeps {
  sql: Sql;
  agents: AgentClients;
}

/** Starts a STOPPED VM's domain on its node; a RUNNING VM is left as it is. */
export async function startVm(deps: PowerDeps, id: string): Promise<Vm> {
  const vm = await mustGetVm(deps.sql, id);
  if (vm.state === "RUNNING") return vm;
  const agent = await agentOf(deps, vm, ["STOPPED"]);
  const domain = await callAgent(agent.name, () => deps.agents.startDomain(agent, vm.id));
  // The answer's generation makes heartbeats taken before the start stale.
  const reportGeneration = domain?.generation ?? 0;
  return (await transitionVm(deps.sql, vm.id, ["STOPPED"], "RUNNING", { reason: "", reportGeneration })) ?? vm;
}

/** Shuts a RUNNING VM's domain down (at once with `force`); a STOPPED VM is left as it is. */
export async function stopVm(deps: PowerDeps, id: string, force: boolean): Promise<Vm> {
  const vm = await mustGetVm(deps.sql, id);
  if (vm.state === "STOPPED") return vm;
  const agent = await agentOf(deps, vm, ["RUNNING"]);
  const domain = await callAgent(agent.name, () => deps.agents.stopDomain(agent, vm.id, force));
  // The answer's generation makes heartbeats taken before the stop stale: they cannot set it back to RUNNING.
  const reportGeneration = domain?.generation ?? 0;
  return (await transitionVm(deps.sql, vm.id, ["RUNNING"], "STOPPED", { reason: "", reportGeneration })) ?? vm;
}

/** Reboots a RUNNING VM's domain; its state stays RUNNING. */
export async function rebootVm(deps: PowerDeps, id: string): Promise<Vm> {
  const vm = await mustGetVm(deps.sql, id);
  const agent = await agentOf(deps, vm, ["RUNNING"]);
  await callAgent(agent.name, () => deps.agents.rebootDomain(agent, vm.id));
  return vm;
}

/** The node's agent address, or a clear error when the VM cannot be reached. */
export async function agentOf(deps: PowerDeps, vm: Vm, allowed: VmStateName[]): Promise<{ name: string; address: string }> {
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
    throw agentCallError(node, err);
  }
}
