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
import { getNode, getProject, listVms, type Vm } from "@drover/store";
import { vmStateName, vmToProto } from "./convert.js";
import { NotFoundError, ValidationError } from "../errors.js";
import type { SchedulerContext } from "../context.js";
import { checkCatalog } from "../create/catalog-check.js";
import { validateCreate, validateId, validateNodeName, validateProjectName } from "./validation.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { deadlineOf } from "./deadline.js";
import { guardedUnary, READ, requireProject, requireVisibleVm, seesEveryProject, VM_WRITE, type Principal } from "../auth/index.js";
import { watchEvents } from "./watch-events.js";
import { getConsoleLog } from "./console-log.js";
import { deleteVm } from "../vms/delete-vm.js";
import { rebootVm, startVm, stopVm } from "../vms/power.js";
import { mustGetVm } from "../vms/read-vm.js";

/** The request's VM id, checked to be a UUID; kept as written, so a not-found error repeats it. */
function vmId(id: string): string {
  validateId("id", id);
  return id;
}

const PAGE_DEFAULT = 100;
const PAGE_MAX = 1000;

/** The VM, if the caller may see it: another project's VM is NOT_FOUND to project-scoped callers. */
async function visibleVm(ctx: SchedulerContext, who: Principal, id: string): Promise<Vm> {
  const vm = await mustGetVm(ctx.sql, vmId(id));
  requireVisibleVm(who, vm, id);
  return vm;
}

/** Checks, for project-scoped callers, that the VM is theirs before an operation reads it again. */
async function mayOperate(ctx: SchedulerContext, who: Principal, id: string): Promise<string> {
  if (!seesEveryProject(who)) await visibleVm(ctx, who, id);
  return vmId(id);
}

/** The project a create goes into: the named one (which must exist and be the caller's, unless admin or operator), or the caller's. */
async function createProject(ctx: SchedulerContext, who: Principal, named: string): Promise<string> {
  if (!named || named === who.project) return who.project;
  requireProject(who, named, "CreateVms");
  if (!(await getProject(ctx.sql, named))) throw new NotFoundError("project", named, "create it with CreateProject");
  return named;
}

const byId = <R extends { id: string }>(req: R) => req.id;

export function vmService(ctx: SchedulerContext): VmServiceServer {
  const unary = guardedUnary(ctx);
  return {
    createVms: unary(
      VM_WRITE,
      async (req, who, call, audit) => {
        const valid = validateCreate(req, ctx.config.defaultStrategy, ctx.config.defaultNetwork);
        await checkCatalog(ctx.sql, valid, (i) => (req.groups.length ? `groups[${i}].template` : "template"));
        return ctx.creates.create(req, { ...valid, project: await createProject(ctx, who, req.project) }, deadlineOf(call), audit);
      },
      (req) => req.project,
    ),

    getVm: unary(READ, async (req: GetVmRequest, who) => ({ vm: vmToProto(await visibleVm(ctx, who, req.id)) })),

    listVms: unary(READ, async (req: ListVmsRequest, who) => {
      const state = req.state === VmState.VM_STATE_UNSPECIFIED ? undefined : vmStateName(req.state);
      if (req.state !== VmState.VM_STATE_UNSPECIFIED && !state) throw new ValidationError("state", `is not a VmState: ${req.state}`);
      if (req.node) {
        validateNodeName("node", req.node);
        if (!(await getNode(ctx.sql, req.node))) throw new NotFoundError("node", req.node);
      }
      if (req.pageSize > PAGE_MAX) throw new ValidationError("page_size", `must be at most ${PAGE_MAX}`);
      if (req.project) validateProjectName("project", req.project);
      // Project-scoped callers see their own project whatever they ask; asking for another is refused.
      if (req.project) requireProject(who, req.project, "ListVms");
      const project = seesEveryProject(who) ? req.project || undefined : who.project;
      const limit = req.pageSize || PAGE_DEFAULT;
      const page = await listVms(ctx.sql, {
        state,
        project,
        node: req.node || undefined,
        after: req.pageToken ? decodePageToken(req.pageToken) : undefined,
        limit,
      });
      return { vms: page.vms.map(vmToProto), nextPageToken: page.next ? encodePageToken(page.next) : "" };
    }),

    deleteVm: unary(VM_WRITE, async (req: DeleteVmRequest, who) => ({ vm: vmToProto(await deleteVm(ctx, await mayOperate(ctx, who, req.id))) }), byId),
    startVm: unary(VM_WRITE, async (req: StartVmRequest, who) => ({ vm: vmToProto(await startVm(ctx, await mayOperate(ctx, who, req.id))) }), byId),
    stopVm: unary(VM_WRITE, async (req: StopVmRequest, who) => ({ vm: vmToProto(await stopVm(ctx, await mayOperate(ctx, who, req.id), req.force)) }), byId),
    rebootVm: unary(VM_WRITE, async (req: RebootVmRequest, who) => ({ vm: vmToProto(await rebootVm(ctx, await mayOperate(ctx, who, req.id))) }), byId),

    // Both streams report their own errors on the stream.
    watchEvents: (call) => void watchEvents(ctx, call),

    getConsoleLog: (call) => void getConsoleLog(ctx, call),
  };
}
