// The one placement path: creates, the batcher, dry runs and the dispatcher's retry on another
// node all place through place(), so they share the configured engine options and the metrics.
import { placeBatch, placeBatchInSteps, type BatchResult, type GroupMembers, type NodeList, type NodeSnapshot, type Resources } from "@drover/placement";
import type { ValidCreate, ValidPolicy } from "../api/validation.js";
import { PlacementExhaustedError } from "../errors.js";
import type { SchedulerMetrics } from "../metrics.js";
import type { PlacementOptionsFor } from "./placement-options.js";
import { toVmRequest } from "./vm-request.js";

/** What every placement needs, a create's or a dispatch retry's: one metrics sink, one set of engine options. */
export interface PlaceDeps {
  metrics: SchedulerMetrics;
  placementOptions: PlacementOptionsFor;
}

/** A VM to place: its key (tie-break, result lookup) and what it needs. */
export interface VmToPlace {
  key: string;
  spec: Resources;
}

/**
 * Places `planned` on `nodes` (a snapshot, or the node cache's list) under `policy`, timed into the
 * placement metric. `groupMembers` (the group cache's maps) counts the policy's groups' members
 * on top of the nodes, for snapshots that do not hold them (the node cache's).
 */
export function place(
  deps: PlaceDeps,
  nodes: readonly NodeSnapshot[] | NodeList,
  planned: VmToPlace[],
  policy: ValidPolicy,
  seed: string,
  groupMembers?: GroupMembers,
): BatchResult {
  const started = performance.now();
  const { strategy } = policy;
  const vms = planned.map((p) => toVmRequest(p.key, p.spec, policy));
  // The seed comes from the request's content, so a dry run predicts the real
  // decision on the same state, and a decision can be replayed.
  const options = deps.placementOptions(strategy, seed, nodes.length);
  const result = placeBatch(nodes, vms, groupMembers === undefined ? options : { ...options, groupMembers });
  deps.metrics.placementSeconds.observe((performance.now() - started) / 1000);
  return result;
}

/**
 * place() in steps of `stepVms` VMs (placeBatchInSteps: the steps together are place()'s result),
 * for a commit that sends each step while the engine places the next; timed as one placement.
 * Without groups: their members would have to stay as they are until the last step.
 */
export function* placeInSteps(
  deps: PlaceDeps,
  nodes: NodeList,
  planned: VmToPlace[],
  policy: ValidPolicy,
  seed: string,
  stepVms: number,
): Generator<BatchResult, void, undefined> {
  let started = performance.now();
  let spent = 0;
  const vms = planned.map((p) => toVmRequest(p.key, p.spec, policy));
  const steps = placeBatchInSteps(nodes, vms, deps.placementOptions(policy.strategy, seed, nodes.length), stepVms);
  for (let step = steps.next(); !step.done; step = steps.next()) {
    spent += performance.now() - started;
    yield step.value;
    started = performance.now();
  }
  deps.metrics.placementSeconds.observe((spent + performance.now() - started) / 1000);
}

/** Counts each unplaced VM's rejection reasons into the failure metric. */
export function countFailures(deps: PlaceDeps, result: BatchResult): void {
  for (const u of result.unplaced) for (const r of u.reasons) deps.metrics.placementFailures.inc({ reason: r.reason });
}

/** The result when it has at least min_count placements; else PlacementExhaustedError, counted as failures. */
export function requireMinCount(deps: PlaceDeps, result: BatchResult, req: ValidCreate): BatchResult {
  if (result.placements.length >= req.minCount) return result;
  countFailures(deps, result);
  const first = result.unplaced[0];
  throw new PlacementExhaustedError(result.placements.length, req.total, req.minCount, first?.reasons ?? [], first?.message ?? "");
}
