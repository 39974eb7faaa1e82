import {
  VmState,
  type DeleteVmRequest,
  type GetVmRequest,
  type ListVmsRequest,
  type RebootVmRequest,
  type StartVmRequest,
  type StopVmRequest,
  type VmServiceServer,
} from "@drover/proto";
import { getNode, getVm, listVms, transitionVm, type Vm, type VmStateName } from "@drover/store";
import { vmStateName, vmToProto } from "./convert.js";
import { agentCallError } from "../dispatch/agent-clients.js";
import { NodeDownError, NotFoundError, ValidationError, WrongStateError } from "../errors.js";
import type { SchedulerContext } from "../context.js";
import { validateCreate, validateId, validateNodeName } from "./validation.js";
import { schedulerUnary } from "./grpc-status.js";
import { watchEvents } from "./watch-events.js";

const PAGE_DEFAULT = 100;
const PAGE_MAX = 1000;

async function mustGetVm(ctx: SchedulerContext, id: string): Promise<Vm> {
  const vm = await getVm(ctx.sql, validateId("id", id));
  if (!vm) throw new NotFoundError("vm", id);
  return vm;
}

/** The node's agent address, or a clear error when the VM cannot be reached. */
async function agentOf(ctx: SchedulerContext, vm: Vm, allowed: VmStateName[]): Promise<{ name: string; address: string }> {
  if (!allowed.includes(vm.state)) {
    throw new WrongStateError(`vm ${vm.id} is ${vm.state}; this needs it to be ${allowed.join(" or ")}`);
  }
  const node = vm.node ? await getNode(ctx.sql, vm.node) : null;
  if (!node) throw new WrongStateError(`vm ${vm.id} has no node`);
  if (node.state === "DOWN") throw new NodeDownError(node.name);
  return { name: node.name, address: node.address };
}

function encodeToken(vm: Vm): string {
  return Buffer.from(JSON.stringify([vm.createdAt.toISOString(), vm.id])).toString("base64url");
}

function decodeToken(token: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(token, "base64url").toString()) as [string, string];
    const createdAt = new Date(at);
    if (Number.isNaN(createdAt.getTime())) throw new Error();
    return { createdAt, id: validateId("page_token", id) };
  } catch {
    throw new ValidationError("page_token", "is not a next_page_token returned by ListVms");
  }
}

export function vmService(ctx: SchedulerContext): VmServiceServer {
  const unary = schedulerUnary(ctx.log);
  return {
    createVms: unary(async (req) => ctx.creates.create(req, validateCreate(req, ctx.config.defaultStrategy))),

    getVm: unary(async (req: GetVmRequest) => ({ vm: vmToProto(await mustGetVm(ctx, req.id)) })),

    listVms: unary(async (req: ListVmsRequest) => {
      const state = req.state === VmState.VM_STATE_UNSPECIFIED ? undefined : vmStateName(req.state);
      if (req.state !== VmState.VM_STATE_UNSPECIFIED && !state) throw new ValidationError("state", "is not a VmState");
      if (req.node) {
        validateNodeName("node", req.node);
        if (!(await getNode(ctx.sql, req.node))) throw new NotFoundError("node", req.node);
      }
      if (req.pageSize > PAGE_MAX) throw new ValidationError("page_size", `must be at most ${PAGE_MAX}`);
      const limit = req.pageSize || PAGE_DEFAULT;
      const rows = await listVms(ctx.sql, {
        state,
        node: req.node || undefined,
        after: req.pageToken ? decodeToken(req.pageToken) : undefined,
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      return { vms: page.map(vmToProto), nextPageToken: rows.length > limit ? encodeToken(page[page.length - 1]!) : "" };
    }),

    deleteVm: unary(async (req: DeleteVmRequest) => {
      const vm = await mustGetVm(ctx, req.id);
      if (vm.state === "DELETED" || vm.state === "DELETING") return { vm: vmToProto(vm) };
      // An in-flight EnsureDomain may still create the domain: destroy only after its lease.
      const dueAt = vm.leaseUntil && vm.leaseUntil > new Date() ? vm.leaseUntil : "now";
      const next = await transitionVm(
        ctx.sql,
        vm.id,
        ["PENDING", "SCHEDULED", "PROVISIONING", "RUNNING", "STOPPED", "FAILED", "LOST"],
        "DELETING",
        { dueAt },
      );
      ctx.wakeDeletions();
      return { vm: vmToProto(next ?? (await mustGetVm(ctx, req.id))) };
    }),

    startVm: unary(async (req: StartVmRequest) => {
      const vm = await mustGetVm(ctx, req.id);
      if (vm.state === "RUNNING") return { vm: vmToProto(vm) };
      const agent = await agentOf(ctx, vm, ["STOPPED"]);
      await callAgent(agent.name, () => ctx.agents.startDomain(agent.address, vm.id));
      return { vm: vmToProto((await transitionVm(ctx.sql, vm.id, ["STOPPED"], "RUNNING", { reason: "" })) ?? vm) };
    }),

    stopVm: unary(async (req: StopVmRequest) => {
      const vm = await mustGetVm(ctx, req.id);
      if (vm.state === "STOPPED") return { vm: vmToProto(vm) };
      const agent = await agentOf(ctx, vm, ["RUNNING"]);
      await callAgent(agent.name, () => ctx.agents.stopDomain(agent.address, vm.id, req.force));
      return { vm: vmToProto((await transitionVm(ctx.sql, vm.id, ["RUNNING"], "STOPPED", { reason: "" })) ?? vm) };
    }),

    rebootVm: unary(async (req: RebootVmRequest) => {
      const vm = await mustGetVm(ctx, req.id);
      const agent = await agentOf(ctx, vm, ["RUNNING"]);
      await callAgent(agent.name, () => ctx.agents.rebootDomain(agent.address, vm.id));
      return { vm: vmToProto(vm) };
    }),

    watchEvents: (call) => watchEvents(ctx, call),
  };
}

/** Agent failures reach the client naming the node, keeping the agent's message. */
async function callAgent(node: string, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    throw agentCallError(node, err);
  }
}
