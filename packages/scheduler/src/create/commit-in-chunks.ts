import { CreateVmsResponse } from "@drover/proto";
import { commitPlacementsInChunks } from "@drover/store";
import type { ValidCreate } from "../api/validation.js";
import type { AuditSlot } from "../auth/guard.js";
import { encodeAhead } from "../api/encoded-ahead.js";
import { createdResponse, requestRow, vmRows, type CreateDeps, type PlannedVm } from "./plan.js";
import { placeAndCommit } from "./reserved-commit.js";

/**
 * Commits a large request without an idempotency key or groups as commitInOneStatement does, but
 * in one transaction of several statements (commitPlacementsInChunks): the scheduler writes chunk
 * k+1's rows while Postgres inserts chunk k's, and builds the response while the last ones run.
 * The response is returned only when the transaction committed, so it is what committed.
 */
export async function commitInChunks(
  deps: CreateDeps,
  planned: PlannedVm[],
  req: ValidCreate,
  hash: string,
  deadline = Infinity,
  audit?: AuditSlot,
): Promise<CreateVmsResponse> {
  return placeAndCommit(deps, planned, req, hash, async (plan) => {
    const created = await commitPlacementsInChunks(
      deps.sql,
      { requests: [requestRow(plan, hash, null)], claims: plan.claims, vms: vmRows(plan, req), ...(audit ? { audit: [audit.entry] } : {}) },
      deadline,
      // Encoded here, while the last chunks are inserted; sent only if they commit.
      (createdAt) => encodeAhead(createdResponse(plan, req, createdAt), CreateVmsResponse.encode),
    );
    if (audit) audit.written = true;
    return created;
  });
}
