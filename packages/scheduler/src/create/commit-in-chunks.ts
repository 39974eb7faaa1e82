import { randomUUID } from "node:crypto";
import { setImmediate as nextTurn } from "node:timers/promises";
import type { BatchResult } from "@drover/placement";
import { CreateVmsResponse } from "@drover/proto";
import { COMMIT_CHUNK_VMS, commitPlacementsInChunks, isIdempotencyKeyTaken } from "@drover/store";
import type { ValidCreate } from "../api/validation.js";
import type { AuditSlot } from "../auth/guard.js";
import { encodeCreatedAhead } from "../api/encoded-ahead.js";
import { IdempotentReplay } from "./commit-in-transaction.js";
import type { Reservation } from "./node-cache.js";
import { placeInSteps, requireMinCount } from "./place.js";
import { claimsOf, createdResponse, placedVms, requestRow, reserve, storedKey, vmRows, type CreateDeps, type Plan, type PlannedVm } from "./plan.js";

/**
 * The engine places a chunk in steps of this many VMs and gives the event loop back between them,
 * so Postgres's answers are read as they come (a statement's Describe, the end of the chunk before)
 * and the next statement goes out then, not after a whole chunk's placement (10-25 ms at 1,000 nodes).
 */
const PLACE_STEP_VMS = 250;
/** The first chunk is smaller, so that Postgres starts on the bulk sooner. */
const FIRST_CHUNK_VMS = 1000;

/** The answer is encoded in pieces of this many VMs, the event loop given back between them. */
const ENCODE_PIECE_VMS = 1000;

/** The view placed fewer than min_count VMs: nothing may commit. */
class ShortOfMinCount extends Error {
  constructor(readonly result: BatchResult) {
    super("fewer placements than min_count");
  }
}

/**
 * Places and commits a large request without groups (with or without an idempotency key) in one transaction of several statements
 * (commitPlacementsInChunks): the engine places the bulk in chunks of COMMIT_CHUNK_VMS VMs
 * (placeInSteps: the same decisions as placing it whole, so a dry run predicts them; the first
 * chunk smaller, FIRST_CHUNK_VMS), and each chunk's rows go to Postgres as soon as it is placed, so
 * Postgres inserts chunk k while the engine places chunk k+1 in steps of PLACE_STEP_VMS; the claims, the quota and the request row go with the last chunk, and
 * the response is built and encoded while that runs. Each chunk is counted into the node cache as
 * it is placed, and taken out again if the transaction does not commit. The response is returned
 * only when the transaction committed, so it is what committed.
 * As placeOnView does, the request is placed on the cached view first and refused (min_count) only
 * on a fresh one; a view short of min_count rolls back whatever chunks it had sent.
 * An idempotency key goes in the request row, with the last chunk: if another request holds it,
 * the insert waits for that one's transaction and then fails, the transaction rolls back whole,
 * and the caller replays the request that holds it (IdempotentReplay), as for commitInTransaction.
 */
export async function commitInChunks(
  deps: CreateDeps,
  planned: PlannedVm[],
  req: ValidCreate,
  hash: string,
  deadline = Infinity,
  audit?: AuditSlot,
): Promise<CreateVmsResponse> {
  try {
    return await placeAndCommitInChunks(deps, planned, req, hash, deadline, audit, false);
  } catch (err) {
    if (!(err instanceof ShortOfMinCount)) throw err;
  }
  try {
    return await placeAndCommitInChunks(deps, planned, req, hash, deadline, audit, true);
  } catch (err) {
    if (err instanceof ShortOfMinCount) requireMinCount(deps, err.result, req);
    throw err;
  }
}

async function placeAndCommitInChunks(
  deps: CreateDeps,
  planned: PlannedVm[],
  req: ValidCreate,
  hash: string,
  deadline: number,
  audit: AuditSlot | undefined,
  fresh: boolean,
): Promise<CreateVmsResponse> {
  const steps = placeInSteps(deps, await deps.nodes.get(fresh), planned, req.policy, hash, PLACE_STEP_VMS);
  const byKey = new Map(planned.map((p) => [p.key, p]));
  const result: BatchResult = { placements: [], unplaced: [] };
  const plan: Plan = { requestId: randomUUID(), result, vms: [], claims: [] };
  const reservations: Reservation[] = [];
  const take = (step: BatchResult) => {
    result.placements.push(...step.placements);
    result.unplaced.push(...step.unplaced);
  };
  const short = () => result.unplaced.length > req.total - req.minCount;
  try {
    const response = await commitPlacementsInChunks(
      deps.sql,
      {
        async next() {
          const chunk: Plan["vms"] = [];
          const size = plan.vms.length === 0 ? FIRST_CHUNK_VMS : COMMIT_CHUNK_VMS;
          for (;;) {
            const step = steps.next();
            if (step.done) throw new Error("placeInSteps ended before the last chunk");
            take(step.value);
            if (short()) {
              // Nothing will commit: place the rest (for the refusal's counts), then roll back.
              for (const rest of steps) take(rest);
              throw new ShortOfMinCount(result);
            }
            const vms = placedVms(step.value.placements, byKey);
            const claims = claimsOf(vms);
            plan.vms.push(...vms);
            plan.claims.push(...claims);
            // Counted into the view before the event loop runs others, so concurrent requests see the room taken.
            reservations.push(reserve(deps, { vms, claims }, req));
            chunk.push(...vms);
            const last = result.placements.length + result.unplaced.length === planned.length;
            if (last || chunk.length >= size) return { vms: vmRows({ requestId: plan.requestId, vms: chunk }, req), last };
            await nextTurn();
          }
        },
        finish: () => ({ requests: [requestRow(plan, hash, storedKey(req) || null)], claims: plan.claims, ...(audit ? { audit: [audit.entry] } : {}) }),
        // Encoded here, while the last chunks are inserted; sent only if they commit.
        whileCommitting: (createdAt) => encodeCreatedAhead(createdResponse(plan, req, createdAt), ENCODE_PIECE_VMS),
      },
      deadline,
    );
    if (audit) audit.written = true;
    deps.onScheduled();
    return response;
  } catch (err) {
    for (const r of reservations) r.undo();
    throw isIdempotencyKeyTaken(err) ? new IdempotentReplay() : err;
  }
}
