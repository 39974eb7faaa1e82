// Pieces of the create flow shared by the single-request path and the batcher.
import { createHash, randomUUID } from "node:crypto";
import type { BatchResult, Placement } from "@drover/placement";
import { CreateVmsRequest, PlacementPolicy, VmSpec, VmState, type Vm } from "@drover/proto";
import type { Claim, CreateRequest, GroupMember, NewVm, Sql } from "@drover/store";
import type { GroupCache } from "./group-cache.js";
import type { NodeCache, Reservation } from "./node-cache.js";
import type { PlaceDeps } from "./place.js";
import type { SlotHolder } from "../dispatch/held-slots.js";
import type { ValidCreate } from "../api/validation.js";
import { explanation } from "./vm-request.js";
import { newVmId } from "./vm-id.js";
import { toTimestamp } from "../api/convert.js";

export interface CreateDeps extends PlaceDeps {
  sql: Sql;
  claimRetries: number;
  /** This replica's cached view of node capacity. */
  nodes: NodeCache;
  /** This replica's cached view of (anti-)affinity group members. */
  groups: GroupCache;
  /** Called after a commit of SCHEDULED VMs so the local dispatcher starts at once. */
  onScheduled(): void;
  /** The local dispatcher, for slots a single create's VMs commit PROVISIONING under (none: all SCHEDULED). */
  dispatch?: SlotHolder;
}

/** One VM the request asks for, before placement. `key` is stable across retries and dry runs. */
export interface PlannedVm {
  key: string;
  spec: VmSpec;
  /** The request's spec it was made from: the same for every VM of one template, but the name. */
  template: VmSpec;
}

export function planVms(req: ValidCreate): PlannedVm[] {
  return req.groups.flatMap((g, gi) =>
    Array.from({ length: g.count }, (_, i) => ({
      key: `${gi}/${i}`,
      spec: { ...g.spec, name: g.count === 1 ? g.spec.name : `${g.spec.name}-${i + 1}` },
      template: g.spec,
    })),
  );
}

/** Identifies the request's content (not its key or dry-run flag): idempotency check and tie-break seed. */
export function requestHash(req: CreateVmsRequest): string {
  return createHash("sha256")
    .update(JSON.stringify(CreateVmsRequest.toJSON({ ...req, idempotencyKey: "", dryRun: false })))
    .digest("hex");
}

/** A placed request ready to commit: new ids, claims, rows. */
export interface Plan {
  requestId: string;
  result: BatchResult;
  /** `explanation`: the placement as stored and answered (one object for both, read-only). */
  vms: { id: string; spec: VmSpec; template: VmSpec; placement: Placement; explanation: ReturnType<typeof explanation> }[];
  claims: Claim[];
}

export function materialize(result: BatchResult, planned: PlannedVm[]): Plan {
  const vms = placedVms(result.placements, new Map(planned.map((p) => [p.key, p])));
  return { requestId: randomUUID(), result, vms, claims: claimsOf(vms) };
}

/** Placements as a plan's VMs: each with a new id, its spec and its explanation. */
export function placedVms(placements: readonly Placement[], byKey: ReadonlyMap<string, PlannedVm>): Plan["vms"] {
  return placements.map((p) => {
    const planned = byKey.get(p.key)!;
    return { id: newVmId(), spec: planned.spec, template: planned.template, placement: p, explanation: explanation(p) };
  });
}

/** The claims of a plan's VMs, one per VM. */
export function claimsOf(vms: Plan["vms"]): Claim[] {
  return vms.map((v) => ({ node: v.placement.node, vcpus: v.spec.vcpus, memoryMib: v.spec.memoryMib, diskGib: v.spec.diskGib }));
}

/** The groups a plan's VMs join, as the store checks them (and the group cache counts them). */
export function groupMembers(plan: Pick<Plan, "vms">, req: ValidCreate): GroupMember[] {
  const groups = req.policy.groups;
  if (groups.length === 0) return [];
  const { antiAffinityGroup, affinityGroup } = req.policy.proto;
  return plan.vms.map((v) => ({ node: v.placement.node, groups, antiAffinityGroup, affinityGroup }));
}

/** Counts a plan into both cached views at once (room on its nodes, members in its groups); undo() takes it back out. */
export function reserve(deps: CreateDeps, plan: Pick<Plan, "vms" | "claims">, req: ValidCreate): Reservation {
  const nodes = deps.nodes.reserve(plan.claims);
  const groups = req.policy.groups.length > 0 ? deps.groups.reserve(groupMembers(plan, req)) : undefined;
  return {
    undo() {
      nodes.undo();
      groups?.undo();
    },
  };
}

/** The create request of a plan as recorded: what was asked (by hash), what was created, what was not. */
export function requestRow(plan: Plan, hash: string, idempotencyKey: string | null): CreateRequest {
  return {
    id: plan.requestId,
    idempotencyKey,
    requestHash: hash,
    vmIds: plan.vms.map((v) => v.id),
    unplaced: plan.result.unplaced.length,
    unplacedReason: plan.result.unplaced[0]?.message ?? "",
  };
}

/** The rows of a plan's VMs (or of some of them: a chunk's); with `leaseMs`, PROVISIONING under that lease (held slots). */
export function vmRows(plan: Pick<Plan, "requestId" | "vms">, req: ValidCreate, leaseMs?: number): NewVm[] {
  const policy = PlacementPolicy.toJSON(req.policy.proto);
  const { groups, proto } = req.policy;
  // The groups and the two hard rules travel with the rows: the commit's statement checks them.
  const member = groups.length === 0 ? {} : { groups, antiAffinityGroup: proto.antiAffinityGroup, affinityGroup: proto.affinityGroup };
  // One spec object per template (the store sets each row's name): sent and converted once, not per VM.
  const specs = new Map<VmSpec, unknown>();
  const specOf = (t: VmSpec) => specs.get(t) ?? specs.set(t, VmSpec.toJSON(t)).get(t);
  return plan.vms.map((v) => ({
    id: v.id,
    name: v.spec.name,
    spec: specOf(v.template),
    policy,
    requestId: plan.requestId,
    vcpus: v.spec.vcpus,
    memoryMib: v.spec.memoryMib,
    diskGib: v.spec.diskGib,
    node: v.placement.node,
    placement: v.explanation,
    project: req.project,
    ...member,
    ...(leaseMs === undefined ? {} : { leaseMs }),
  }));
}

/**
 * The idempotency key as stored: scoped by project, so one project's key
 * never replays another's VMs. Keys cannot hold control characters
 * (validation.ts), so the separator cannot be forged; the default project's
 * keys stay as they were before projects existed.
 */
export const storedKey = (req: ValidCreate): string =>
  !req.idempotencyKey || req.project === "default" ? req.idempotencyKey : `${req.project}\u0001${req.idempotencyKey}`;

/**
 * The response for a committed plan, built from what was written rather than read back:
 * `leased`, its VMs committed PROVISIONING (their first attempt) instead of SCHEDULED.
 */
export function createdResponse(plan: Plan, req: ValidCreate, createdAt: Date, leased = false) {
  // Shared, read-only parts: one timestamp, the planned spec itself unless it holds user data.
  const at = toTimestamp(createdAt);
  const vms: Vm[] = plan.vms.map((v) => ({
    id: v.id,
    spec: v.spec.userData === "" ? v.spec : { ...v.spec, userData: "" }, // userData is write-only
    project: req.project,
    node: v.placement.node,
    state: leased ? VmState.VM_STATE_PROVISIONING : VmState.VM_STATE_SCHEDULED,
    reason: "",
    interfaces: [],
    policy: req.policy.proto,
    placement: v.explanation,
    createdAt: at,
    updatedAt: at,
    attempts: leased ? 1 : 0,
  }));
  const unplaced = plan.result.unplaced;
  return { vms, unplaced: unplaced.length, unplacedReason: unplaced[0]?.message ?? "", dryRun: false };
}
