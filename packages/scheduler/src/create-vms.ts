import { createHash, randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { placeBatch, type BatchResult, type NodeSnapshot } from "@drover/placement";
import { CreateVmsRequest, PlacementPolicy, VmSpec, VmState, type CreateVmsResponse, type Vm } from "@drover/proto";
import {
  ClaimConflictError,
  claimResources,
  findRequestByKey,
  getVms,
  insertRequest,
  insertScheduledVms,
  lockGroups,
  vmToProto,
  type Sql,
  type Tx,
} from "@drover/store";
import type { NodeCache, Reservation } from "./node-cache.js";
import { RpcError } from "./errors.js";
import type { SchedulerMetrics } from "./metrics.js";
import type { PlacementOptionsFor } from "./placement-options.js";
import { takeSnapshot } from "./snapshot.js";
import type { ValidCreate } from "./validation.js";
import { explanation, toVmRequest } from "./vm-request.js";

export interface CreateDeps {
  sql: Sql;
  metrics: SchedulerMetrics;
  claimRetries: number;
  placementOptions: PlacementOptionsFor;
  /** This replica's cached view of node capacity. */
  nodes: NodeCache;
  /** Called after a commit so the local dispatcher starts at once. */
  onScheduled(): void;
}

/** Another request with the same idempotency key committed first. */
class IdempotentReplay extends Error {}

/** One VM the request asks for, before placement. `key` is stable across retries and dry runs. */
interface PlannedVm {
  key: string;
  spec: VmSpec;
}

function planVms(req: ValidCreate): PlannedVm[] {
  return req.groups.flatMap((g, gi) =>
    Array.from({ length: g.count }, (_, i) => ({
      key: `${gi}/${i}`,
      spec: { ...g.spec, name: g.count === 1 ? g.spec.name : `${g.spec.name}-${i + 1}` },
    })),
  );
}

/** Identifies the request's content (not its key or dry-run flag): idempotency check and tie-break seed. */
function requestHash(req: CreateVmsRequest): string {
  return createHash("sha256")
    .update(JSON.stringify(CreateVmsRequest.toJSON({ ...req, idempotencyKey: "", dryRun: false })))
    .digest("hex");
}

function place(deps: CreateDeps, nodes: NodeSnapshot[], planned: PlannedVm[], req: ValidCreate, seed: string): BatchResult {
  const started = performance.now();
  const { strategy } = req.policy;
  const vms = planned.map((p) => toVmRequest(p.key, p.spec, req.policy));
  // The seed comes from the request's content, so a dry run predicts the real
  // decision on the same state, and a decision can be replayed.
  const result = placeBatch(nodes, vms, deps.placementOptions(strategy, seed, nodes.length));
  deps.metrics.placementSeconds.observe((performance.now() - started) / 1000);
  return result;
}

/**
 * Places and commits a CreateVms request: snapshot, pure placement, then the
 * claims, VM rows and their events in one transaction. A claim conflict
 * (another replica took the room) rolls back and retries on a fresh snapshot.
 */
export async function createVms(deps: CreateDeps, raw: CreateVmsRequest, req: ValidCreate): Promise<CreateVmsResponse> {
  const hash = requestHash(raw);
  const planned = planVms(req);
  if (req.dryRun) return simulate(deps, planned, req, hash);
  if (req.idempotencyKey) {
    const replay = await replayByKey(deps, req.idempotencyKey, hash);
    if (replay) return replay;
  }
  const policyJson = PlacementPolicy.toJSON(req.policy.proto);

  for (let attempt = 0; attempt <= deps.claimRetries; attempt++) {
    let reservation: Reservation | undefined;
    try {
      // Without groups, place on the cached view before taking a connection for
      // the transaction (the embedded database has only one).
      const grouped = req.policy.groups.length > 0;
      let plan = grouped ? undefined : materialize(await placeOnView(deps, planned, req, hash), planned);
      // Counted into the cached view at once, so concurrent requests see the room taken.
      if (plan) reservation = deps.nodes.reserve(plan.claims);
      const response = await deps.sql.begin(async (tx) => {
        if (!plan) {
          plan = materialize(await placeLocked(deps, tx, planned, req, hash), planned);
          reservation = deps.nodes.reserve(plan.claims);
        }
        const { result, vms, claims } = plan;
        const unplacedReason = result.unplaced[0]?.message ?? "";
        const requestId = randomUUID();
        const stored = await insertRequest(tx, {
          id: requestId,
          idempotency_key: req.idempotencyKey || null,
          request_hash: hash,
          vm_ids: vms.map((v) => v.id),
          unplaced: result.unplaced.length,
          unplaced_reason: unplacedReason,
        });
        if (!stored) throw new IdempotentReplay();
        await claimResources(tx, claims);
        const createdAt = await insertScheduledVms(
          tx,
          { policy: policyJson, groups: req.policy.groups, requestId },
          vms.map((v) => ({
            id: v.id,
            name: v.spec.name,
            spec: VmSpec.toJSON(v.spec),
            vcpus: v.spec.vcpus,
            memoryMib: v.spec.memoryMib,
            diskGib: v.spec.diskGib,
            node: v.placement.node,
            placement: explanation(v.placement),
          })),
        );
        // The response is built from what was written, without reading the rows back.
        const created: Vm[] = vms.map((v) => ({
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
        return { vms: created, unplaced: result.unplaced.length, unplacedReason, dryRun: false };
      });
      deps.onScheduled();
      return response;
    } catch (err) {
      reservation?.undo();
      if (err instanceof ClaimConflictError) {
        deps.metrics.claimConflicts.inc();
        deps.nodes.invalidate();
        continue;
      }
      if (err instanceof IdempotentReplay) return (await replayByKey(deps, req.idempotencyKey, hash))!;
      throw err;
    }
  }
  throw new RpcError(
    status.ABORTED,
    `placement conflicted with concurrent requests ${deps.claimRetries + 1} times; nothing was created, retry the request`,
  );
}

/** The placed VMs with their new ids, and the claims they make. */
function materialize(result: BatchResult, planned: PlannedVm[]) {
  const byKey = new Map(planned.map((p) => [p.key, p]));
  const vms = result.placements.map((p) => ({ id: randomUUID(), spec: byKey.get(p.key)!.spec, placement: p }));
  const claims = vms.map((v) => ({ node: v.placement.node, vcpus: v.spec.vcpus, memoryMib: v.spec.memoryMib, diskGib: v.spec.diskGib }));
  return { result, vms, claims };
}

/** Places on this replica's cached view; a request is only refused on a fresh view. */
async function placeOnView(deps: CreateDeps, planned: PlannedVm[], req: ValidCreate, seed: string): Promise<BatchResult> {
  let result = place(deps, await deps.nodes.get(), planned, req, seed);
  if (result.placements.length < req.minCount) result = place(deps, await deps.nodes.get(true), planned, req, seed);
  return requireMinCount(deps, result, req);
}

/**
 * (Anti-)affinity depends on group members on every node, which no single
 * node's claim can check: lock the groups for the transaction and place on a
 * fresh snapshot that counts their members.
 */
async function placeLocked(deps: CreateDeps, tx: Tx, planned: PlannedVm[], req: ValidCreate, seed: string): Promise<BatchResult> {
  await lockGroups(tx, req.policy.groups);
  return requireMinCount(deps, place(deps, await takeSnapshot(tx, req.policy.groups), planned, req, seed), req);
}

function requireMinCount(deps: CreateDeps, result: BatchResult, req: ValidCreate): BatchResult {
  if (result.placements.length >= req.minCount) return result;
  for (const u of result.unplaced) for (const r of u.reasons) deps.metrics.placementFailures.inc({ reason: r.reason });
  throw new RpcError(
    status.RESOURCE_EXHAUSTED,
    `can place ${result.placements.length} of ${req.total} VMs, min_count is ${req.minCount}: ${result.unplaced[0]?.message || "no nodes registered"}`,
  );
}

/** Where each VM would go against live state, and why; writes nothing. */
async function simulate(deps: CreateDeps, planned: PlannedVm[], req: ValidCreate, seed: string): Promise<CreateVmsResponse> {
  const nodes = req.policy.groups.length > 0 ? await takeSnapshot(deps.sql, req.policy.groups) : await deps.nodes.get(true);
  const result = place(deps, nodes, planned, req, seed);
  const byKey = new Map(planned.map((p) => [p.key, p]));
  const vms: Vm[] = result.placements.map((p) => ({
    id: "",
    spec: byKey.get(p.key)!.spec,
    node: p.node,
    state: VmState.VM_STATE_PENDING,
    reason: "",
    policy: req.policy.proto,
    placement: explanation(p),
    attempts: 0,
  }));
  return { vms, unplaced: result.unplaced.length, unplacedReason: result.unplaced[0]?.message ?? "", dryRun: true };
}

async function replayByKey(deps: CreateDeps, key: string, hash: string): Promise<CreateVmsResponse | null> {
  const prior = await findRequestByKey(deps.sql, key);
  if (!prior) return null;
  if (prior.request_hash !== hash) {
    throw new RpcError(
      status.FAILED_PRECONDITION,
      `idempotency_key "${key}" was already used for a different request; use a new key for a new request`,
    );
  }
  const rows = await getVms(deps.sql, prior.vm_ids);
  return { vms: rows.map(vmToProto), unplaced: prior.unplaced, unplacedReason: prior.unplaced_reason, dryRun: false };
}
