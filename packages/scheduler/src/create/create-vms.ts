import { status } from "@grpc/grpc-js";
import type { BatchResult } from "@drover/placement";
import { VmState, type CreateVmsRequest, type CreateVmsResponse, type Vm } from "@drover/proto";
import {
  ClaimConflictError,
  claimResources,
  commitPlacements,
  findRequestByKey,
  getVms,
  insertRequest,
  insertScheduledVms,
  lockGroups,
  vmToProto,
  type Tx,
} from "@drover/store";
import {
  createdResponse,
  materialize,
  place,
  planVms,
  requestHash,
  requestRow,
  requireMinCount,
  vmRows,
  type CreateDeps,
  type PlannedVm,
} from "./plan.js";
import { RpcError } from "../api/errors.js";
import type { Reservation } from "./node-cache.js";
import { takeSnapshot } from "./snapshot.js";
import type { ValidCreate } from "../api/validation.js";
import { explanation } from "./vm-request.js";

export type { CreateDeps } from "./plan.js";

/** Another request with the same idempotency key committed first. */
class IdempotentReplay extends Error {}

/**
 * Places and commits one CreateVms request: pure placement, then the claims,
 * VM rows and their events in one transaction. A claim conflict (another
 * replica took the room) rolls back and retries on a fresh snapshot.
 */
export async function createVms(deps: CreateDeps, raw: CreateVmsRequest, req: ValidCreate): Promise<CreateVmsResponse> {
  const hash = requestHash(raw);
  const planned = planVms(req);
  if (req.dryRun) return simulate(deps, planned, req, hash);
  if (req.idempotencyKey) {
    const replay = await replayByKey(deps, req.idempotencyKey, hash);
    if (replay) return replay;
  }
  const grouped = req.policy.groups.length > 0;

  for (let attempt = 0; attempt <= deps.claimRetries; attempt++) {
    let reservation: Reservation | undefined;
    try {
      // Without groups, place on the cached view before taking a connection
      // for the transaction (the embedded database has only one), and count
      // it into the view at once so concurrent requests see the room taken.
      let plan = grouped ? undefined : materialize(await placeOnView(deps, planned, req, hash), planned);
      if (plan) reservation = deps.nodes.reserve(plan.claims);
      // Most requests (no key, no groups) need no transaction of their own: one statement commits them.
      if (plan && !req.idempotencyKey) {
        const created = await commitPlacements(deps.sql, {
          requests: [requestRow(plan, hash, null)],
          claims: plan.claims,
          vms: vmRows(plan, req),
        });
        deps.onScheduled();
        return createdResponse(plan, req, created);
      }
      const response = await deps.sql.begin(async (tx) => {
        if (!plan) {
          plan = materialize(await placeLocked(deps, tx, planned, req, hash), planned);
          reservation = deps.nodes.reserve(plan.claims);
        }
        const stored = await insertRequest(tx, requestRow(plan, hash, req.idempotencyKey || null));
        if (!stored) throw new IdempotentReplay();
        await claimResources(tx, plan.claims);
        return createdResponse(plan, req, await insertScheduledVms(tx, req.policy.groups, vmRows(plan, req)));
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
