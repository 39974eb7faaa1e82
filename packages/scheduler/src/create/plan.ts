// Pieces of the create flow shared by the single-request path and the batcher; place() also serves the dispatcher.
import { createHash, randomUUID } from "node:crypto";
import { placeBatch, type BatchResult, type NodeSnapshot, type Placement, type Resources } from "@drover/placement";
import { CreateVmsRequest, PlacementPolicy, VmSpec, VmState, type Vm } from "@drover/proto";
import type { Claim, CreateRequest, NewVm, Sql } from "@drover/store";
import { PlacementExhaustedError } from "../errors.js";
import type { SchedulerMetrics } from "../metrics.js";
import type { NodeCache } from "./node-cache.js";
import type { PlacementOptionsFor } from "./placement-options.js";
import type { ValidCreate, ValidPolicy } from "../api/validation.js";
import { explanation, toVmRequest } from "./vm-request.js";

/** What every placement needs, a create's or a dispatch retry's: one metrics sink, one set of engine options. */
export interface PlaceDeps {
  metrics: SchedulerMetrics;
  placementOptions: PlacementOptionsFor;
}

export interface CreateDeps extends PlaceDeps {
  sql: Sql;
  claimRetries: number;
  /** This replica's cached view of node capacity. */
  nodes: NodeCache;
  /** Called after a commit so the local dispatcher starts at once. */
  onScheduled(): void;
}

/** One VM the request asks for, before placement. `key` is stable across retries and dry runs. */
export interface PlannedVm {
  key: string;
  spec: VmSpec;
}

/** A VM to place: its key (tie-break, result lookup) and what it needs. */
export interface VmToPlace {
  key: string;
  spec: Resources;
}

export function planVms(req: ValidCreate): PlannedVm[] {
  return req.groups.flatMap((g, gi) =>
    Array.from({ length: g.count }, (_, i) => ({
      key: `${gi}/${i}`,
      spec: { ...g.spec, name: g.count === 1 ? g.spec.name : `${g.spec.name}-${i + 1}` },
    })),
  );
}

/** Identifies the request's content (not its key or dry-run flag): idempotency check and tie-break seed. */
export function requestHash(req: CreateVmsRequest): string {
  return createHash("sha256")
    .update(JSON.stringify(CreateVmsRequest.toJSON({ ...req, idempotencyKey: "", dryRun: false })))
    .digest("hex");
}

/**
 * The one placement path: creates, the batcher and the dispatcher's retry on another node all
 * come here, so they share the configured engine options and the metrics.
 */
export function place(deps: PlaceDeps, nodes: NodeSnapshot[], planned: VmToPlace[], policy: ValidPolicy, seed: string): BatchResult {
  const started = performance.now();
  const { strategy } = policy;
  const vms = planned.map((p) => toVmRequest(p.key, p.spec, policy));
  // The seed comes from the request's content, so a dry run predicts the real
  // decision on the same state, and a decision can be replayed.
  const result = placeBatch(nodes, vms, deps.placementOptions(strategy, seed, nodes.length));
  deps.metrics.placementSeconds.observe((performance.now() - started) / 1000);
  return result;
}

/** Counts each unplaced VM's rejection reasons into the failure metric. */
export function countFailures(deps: PlaceDeps, result: BatchResult): void {
  for (const u of result.unplaced) for (const r of u.reasons) deps.metrics.placementFailures.inc({ reason: r.reason });
}

export function requireMinCount(deps: CreateDeps, result: BatchResult, req: ValidCreate): BatchResult {
  if (result.placements.length >= req.minCount) return result;
  countFailures(deps, result);
  const first = result.unplaced[0];
  throw new PlacementExhaustedError(result.placements.length, req.total, req.minCount, first?.reasons ?? [], first?.message ?? "");
}

/** A placed request ready to commit: new ids, claims, rows. */
export interface Plan {
  requestId: string;
  result: BatchResult;
  vms: { id: string; spec: VmSpec; placement: Placement }[];
  claims: Claim[];
}

export function materialize(result: BatchResult, planned: PlannedVm[]): Plan {
  const byKey = new Map(planned.map((p) => [p.key, p]));
  const vms = result.placements.map((p) => ({ id: randomUUID(), spec: byKey.get(p.key)!.spec, placement: p }));
  const claims = vms.map((v) => ({ node: v.placement.node, vcpus: v.spec.vcpus, memoryMib: v.spec.memoryMib, diskGib: v.spec.diskGib }));
  return { requestId: randomUUID(), result, vms, claims };
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

export function vmRows(plan: Plan, req: ValidCreate): NewVm[] {
  const policy = PlacementPolicy.toJSON(req.policy.proto);
  return plan.vms.map((v) => ({
    id: v.id,
    name: v.spec.name,
    spec: VmSpec.toJSON(v.spec),
    policy,
    requestId: plan.requestId,
    vcpus: v.spec.vcpus,
    memoryMib: v.spec.memoryMib,
    diskGib: v.spec.diskGib,
    node: v.placement.node,
    placement: explanation(v.placement),
  }));
}

/** The response for a committed plan, built from what was written rather than read back. */
export function createdResponse(plan: Plan, req: ValidCreate, createdAt: Date) {
  const vms: Vm[] = plan.vms.map((v) => ({
    id: v.id,
    spec: v.spec,
    node: v.placement.node,
    state: VmState.VM_STATE_SCHEDULED,
    reason: "",
    policy: req.policy.proto,
    placement: explanation(v.placement),
    createdAt,
    updatedAt: createdAt,
    attempts: 0,
  }));
  const unplaced = plan.result.unplaced;
  return { vms, unplaced: unplaced.length, unplacedReason: unplaced[0]?.message ?? "", dryRun: false };
}
