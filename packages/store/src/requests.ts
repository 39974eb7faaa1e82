import type { Db } from "./db.js";
import type { CreateRequest } from "./domain.js";
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
    INSERT INTO create_requests (id, idempotency_key, request_hash, vm_ids, unplaced, unplaced_reason)
    VALUES (${r.id}, ${r.idempotencyKey}, ${r.requestHash}, ${r.vmIds}::uuid[], ${r.unplaced}, ${r.unplacedReason})
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`;
  return inserted.length === 1;
}

/** The INSERT of create requests without idempotency keys: a fragment of commitPlacements' statement. */
export function requestsInsert(db: Db, requests: Omit<CreateRequest, "idempotencyKey">[]) {
  return db`
    INSERT INTO create_requests (id, request_hash, vm_ids, unplaced, unplaced_reason)
    SELECT t.id, t.request_hash, ARRAY(SELECT jsonb_array_elements_text(t.vm_ids::jsonb))::uuid[], t.unplaced, t.unplaced_reason
    FROM unnest(${requests.map((r) => r.id)}::uuid[], ${requests.map((r) => r.requestHash)}::text[],
      ${requests.map((r) => JSON.stringify(r.vmIds))}::text[], ${requests.map((r) => r.unplaced)}::int[],
      ${requests.map((r) => r.unplacedReason)}::text[]) AS t(id, request_hash, vm_ids, unplaced, unplaced_reason)`;
}
