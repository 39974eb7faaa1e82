import type { Db } from "./db.js";

export interface CreateRequestRow {
  id: string;
  idempotency_key: string | null;
  request_hash: string;
  vm_ids: string[];
  unplaced: number;
  unplaced_reason: string;
}

export async function findRequestByKey(db: Db, key: string): Promise<CreateRequestRow | null> {
  const [row] = await db<CreateRequestRow[]>`SELECT * FROM create_requests WHERE idempotency_key = ${key}`;
  return row ?? null;
}

/**
 * Records a create request. With an idempotency key that another request has
 * already committed, inserts nothing and returns null; a concurrent request
 * with the same key waits on the unique index until the first one ends.
 */
export async function insertRequest(db: Db, row: CreateRequestRow): Promise<boolean> {
  const inserted = await db`
    INSERT INTO create_requests (id, idempotency_key, request_hash, vm_ids, unplaced, unplaced_reason)
    VALUES (${row.id}, ${row.idempotency_key}, ${row.request_hash}, ${row.vm_ids}::uuid[], ${row.unplaced}, ${row.unplaced_reason})
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`;
  return inserted.length === 1;
}

/** The INSERT of create requests without idempotency keys: a fragment, run alone or inside a larger statement. */
export function requestsInsert(db: Db, rows: Omit<CreateRequestRow, "idempotency_key">[]) {
  return db`
    INSERT INTO create_requests (id, request_hash, vm_ids, unplaced, unplaced_reason)
    SELECT t.id, t.request_hash, ARRAY(SELECT jsonb_array_elements_text(t.vm_ids::jsonb))::uuid[], t.unplaced, t.unplaced_reason
    FROM unnest(${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.request_hash)}::text[],
      ${rows.map((r) => JSON.stringify(r.vm_ids))}::text[], ${rows.map((r) => r.unplaced)}::int[],
      ${rows.map((r) => r.unplaced_reason)}::text[]) AS t(id, request_hash, vm_ids, unplaced, unplaced_reason)`;
}
