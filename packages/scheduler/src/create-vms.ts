import { createHash, randomUUID } from "node:crypto";
import { status } from "@grpc/grpc-js";
import { placeBatch } from "@drover/placement";
import { CreateVmsRequest, PlacementPolicy, VmSpec, type CreateVmsResponse } from "@drover/proto";
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
} from "@drover/store";
import { RpcError } from "./errors.js";
import type { SchedulerMetrics } from "./metrics.js";
import { takeSnapshot } from "./snapshot.js";
import type { ValidCreate } from "./validation.js";
import { explanation, toVmRequest } from "./vm-request.js";

export interface CreateDeps {
  sql: Sql;
  metrics: SchedulerMetrics;
  claimRetries: number;
  /** Called after a commit so the local dispatcher starts at once. */
  onScheduled(): void;
}

/** Another request with the same idempotency key committed first. */
class IdempotentReplay extends Error {}

const vmName = (base: string, count: number, i: number) => (count === 1 ? base : `${base}-${i + 1}`);

function requestHash(req: CreateVmsRequest): string {
  return createHash("sha256")
    .update(JSON.stringify(CreateVmsRequest.toJSON({ ...req, idempotencyKey: "" })))
    .digest("hex");
}

/**
 * Places and commits a CreateVms request: snapshot, pure placement, then the
 * claims, VM rows and their events in one transaction. A claim conflict
 * (another replica took the room) rolls back and retries on a fresh snapshot.
 */
export async function createVms(deps: CreateDeps, raw: CreateVmsRequest, req: ValidCreate): Promise<CreateVmsResponse> {
  const hash = requestHash(raw);
  if (req.idempotencyKey) {
    const replay = await replayByKey(deps, req.idempotencyKey, hash);
    if (replay) return replay;
  }
  const requestId = randomUUID();
  const ids: string[] = Array.from({ length: req.count }, () => randomUUID());
  const { vcpus, memoryMib, diskGib } = req.spec;
  const vms = ids.map((id) => toVmRequest(id, { vcpus, memoryMib, diskGib }, req.policy));
  const policyJson = PlacementPolicy.toJSON(req.policy.proto);

  for (let attempt = 0; attempt <= deps.claimRetries; attempt++) {
    try {
      const response = await deps.sql.begin(async (tx) => {
        // Group members on other nodes decide (anti-)affinity, which no single
        // node's claim can check: serialize requests that share a group.
        await lockGroups(tx, req.policy.groups);
        const nodes = await takeSnapshot(tx, req.policy.groups);
        const started = performance.now();
        // The request id seeds tie-breaks, so the decision can be replayed.
        const result = placeBatch(nodes, vms, { strategy: req.policy.strategy, seed: requestId });
        deps.metrics.placementSeconds.observe((performance.now() - started) / 1000);

        const unplacedReason = result.unplaced[0]?.message ?? "";
        if (result.placements.length < req.minCount) {
          for (const u of result.unplaced) for (const r of u.reasons) deps.metrics.placementFailures.inc({ reason: r.reason });
          const placed = result.placements.length;
          throw new RpcError(
            status.RESOURCE_EXHAUSTED,
            `can place ${placed} of ${req.count} VMs, min_count is ${req.minCount}: ${unplacedReason || "no nodes registered"}`,
          );
        }
        const placedIds = result.placements.map((p) => p.key);
        const stored = await insertRequest(tx, {
          id: requestId,
          idempotency_key: req.idempotencyKey || null,
          request_hash: hash,
          vm_ids: placedIds,
          unplaced: result.unplaced.length,
          unplaced_reason: unplacedReason,
        });
        if (!stored) throw new IdempotentReplay();
        await claimResources(tx, result.placements.map((p) => ({ node: p.node, vcpus, memoryMib, diskGib })));
        const index = new Map(ids.map((id, i) => [id, i]));
        const rows = await insertScheduledVms(
          tx,
          result.placements.map((p) => {
            const name = vmName(req.spec.name, req.count, index.get(p.key)!);
            return {
              id: p.key,
              name,
              spec: VmSpec.toJSON({ ...req.spec, name }),
              policy: policyJson,
              vcpus: req.spec.vcpus,
              memoryMib: req.spec.memoryMib,
              diskGib: req.spec.diskGib,
              groups: req.policy.groups,
              node: p.node,
              placement: explanation(p),
              requestId,
            };
          }),
        );
        return { vms: rows.map(vmToProto), unplaced: result.unplaced.length, unplacedReason };
      });
      deps.onScheduled();
      return response;
    } catch (err) {
      if (err instanceof ClaimConflictError) {
        deps.metrics.claimConflicts.inc();
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
  return { vms: rows.map(vmToProto), unplaced: prior.unplaced, unplacedReason: prior.unplaced_reason };
}
