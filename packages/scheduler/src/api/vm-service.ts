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
import { getNode, listVms } from "@drover/store";
import { vmStateName, vmToProto } from "./convert.js";
import { NotFoundError, ValidationError } from "../errors.js";
import type { SchedulerContext } from "../context.js";
import { checkCatalog } from "../create/catalog-check.js";
import { validateCreate, validateId, validateNodeName } from "./validation.js";
import { schedulerUnary } from "./grpc-status.js";
import { decodePageToken, encodePageToken } from "./page-token.js";
import { deadlineOf } from "./deadline.js";
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

export function vmService(ctx: SchedulerContext): VmServiceServer {
  const unary = schedulerUnary(ctx.log);
  return {
    createVms: unary(async (req, call) => {
      const valid = validateCreate(req, ctx.config.defaultStrategy);
      await checkCatalog(ctx.sql, valid, (i) => (req.groups.length ? `groups[${i}].template` : "template"));
      return ctx.creates.create(req, valid, deadlineOf(call));
    }),

    getVm: unary(async (req: GetVmRequest) => ({ vm: vmToProto(await mustGetVm(ctx.sql, vmId(req.id))) })),

    listVms: unary(async (req: ListVmsRequest) => {
      const state = req.state === VmState.VM_STATE_UNSPECIFIED ? undefined : vmStateName(req.state);
      if (req.state !== VmState.VM_STATE_UNSPECIFIED && !state) throw new ValidationError("state", `is not a VmState: ${req.state}`);
      if (req.node) {
        validateNodeName("node", req.node);
        if (!(await getNode(ctx.sql, req.node))) throw new NotFoundError("node", req.node);
      }
      if (req.pageSize > PAGE_MAX) throw new ValidationError("page_size", `must be at most ${PAGE_MAX}`);
      const limit = req.pageSize || PAGE_DEFAULT;
      const page = await listVms(ctx.sql, {
        state,
        node: req.node || undefined,
        after: req.pageToken ? decodePageToken(req.pageToken) : undefined,
        limit,
      });
      return { vms: page.vms.map(vmToProto), nextPageToken: page.next ? encodePageToken(page.next) : "" };
    }),

    deleteVm: unary(async (req: DeleteVmRequest) => ({ vm: vmToProto(await deleteVm(ctx, vmId(req.id))) })),
    startVm: unary(async (req: StartVmRequest) => ({ vm: vmToProto(await startVm(ctx, vmId(req.id))) })),
    stopVm: unary(async (req: StopVmRequest) => ({ vm: vmToProto(await stopVm(ctx, vmId(req.id), req.force)) })),
    rebootVm: unary(async (req: RebootVmRequest) => ({ vm: vmToProto(await rebootVm(ctx, vmId(req.id))) })),

    // Both streams report their own errors on the stream.
    watchEvents: (call) => void watchEvents(ctx, call),

    getConsoleLog: (call) => void getConsoleLog(ctx, call),
  };
}
