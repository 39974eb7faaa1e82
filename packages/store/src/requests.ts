import type { Db } from "./db.js";
import type { CreateRequest } from "./domain.js";
import { plainArrayLiteral, textArrayLiteral } from "./array-literal.js";
import { requestFromRow, type CreateRequestRow } from "./rows.js";

export async function findRequestByKey(db: Db, key: string): Promise<CreateRequest | null> {
  const [row] = await db<CreateRequestRow[]>`SELECT * FROM create_requests WHERE idempotency_key = ${key}`;
  return row ? requestFromRow(row) : null;
}

/**
 * Records a create request. With an idempotency key that another request has
 * already committed, inserts nothing and returns false; a concurrent request
 * with the same key waits on the unique index until the first one ends.
 */
export async function insertRequest(db: Db, r: CreateRequest): Promise<boolean> {
  const inserted = await db`
    INSERT INTO create_requests (id, idempotency_key, request_hash, vm_ids, vms_left, unplaced, unplaced_reason)
    VALUES (${r.id}, ${r.idempotencyKey}, ${r.requestHash}, ${storedVmIds(r)}::uuid[], ${r.vmIds.length}, ${r.unplaced}, ${r.unplacedReason})
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`;
  return inserted.length === 1;
}

/** A create request as commitPlacements records it: with an idempotency key (a chunked bulk's) or, mostly, without. */
export type PlacedRequest = Omit<CreateRequest, "idempotencyKey"> & { idempotencyKey?: string | null };

/**
 * The INSERT of create requests: a fragment of commitPlacements' statement. A key another
 * request holds fails it with a unique violation (isIdempotencyKeyTaken), after waiting for that
 * request's transaction to end.
 */
export function requestsInsert(db: Db, requests: PlacedRequest[]) {
  return db`
    INSERT INTO create_requests (id, idempotency_key, request_hash, vm_ids, vms_left, unplaced, unplaced_reason)
    SELECT t.id, t.idempotency_key, t.request_hash, t.vm_ids::uuid[], t.vms_left, t.unplaced, t.unplaced_reason
    FROM unnest(${requests.map((r) => r.id)}::uuid[], ${textArrayLiteral(requests.map((r) => r.idempotencyKey ?? null))}::text::text[],
      ${requests.map((r) => r.requestHash)}::text[], ${requests.map((r) => plainArrayLiteral(storedVmIds(r)))}::text[],
      ${requests.map((r) => r.vmIds.length)}::int[], ${requests.map((r) => r.unplaced)}::int[], ${requests.map((r) => r.unplacedReason)}::text[])
      AS t(id, idempotency_key, request_hash, vm_ids, vms_left, unplaced, unplaced_reason)`;
}

/** The ids a request row lists: a keyed request's, which its replays read; none without a key (migration 036). */
function storedVmIds(r: PlacedRequest): string[] {
  return r.idempotencyKey ? r.vmIds : [];
}

/** Whether `err` is an insert of a create request refused because another holds its idempotency key. */
export function isIdempotencyKeyTaken(err: unknown): boolean {
  const e = err as { code?: string; constraint_name?: string };
  return e.code === "23505" && e.constraint_name === "create_requests_idempotency_key_key";
}
