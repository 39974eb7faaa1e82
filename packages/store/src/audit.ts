// The audit trail: one outbox event per mutating API call, subject
// drover.audit.<verb>, delivered like every other event (WatchEvents, NATS).
import type { Db } from "./db.js";

export interface AuditEntry {
  /** e.g. "delete_vm": the subject is drover.audit.<verb>. */
  verb: string;
  tokenId: string;
  role: string;
  project: string;
  /** Full gRPC method. */
  method: string;
  /** What the call named: a VM id, node, project or token id; "" if nothing. */
  target: string;
  /** gRPC status code name. */
  result: string;
  message: string;
  /** drover.audit.denied: the caller's address. */
  peer?: string;
  /** drover.audit.denied: refusals this entry stands for (folded past the per-window limit). */
  count?: number;
}

/** Writes the entries as outbox events in one statement. The payload is the proto JSON of drover.v1.Event. */
export async function insertAuditEvents(db: Db, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await auditInsert(db, entries);
}

/**
 * The statement that writes the entries as outbox events, also as a part (a CTE) of another
 * statement: a create's own commit carries its audit event (store placements.ts).
 */
export function auditInsert(db: Db, entries: AuditEntry[]) {
  return db`
    INSERT INTO outbox (subject, payload)
    SELECT 'drover.audit.' || a.verb, jsonb_build_object(
      'subject', 'drover.audit.' || a.verb,
      'type', 'audit.' || a.verb,
      'project', a.project,
      'audit', jsonb_build_object('tokenId', a.token_id, 'role', a.role, 'method', a.method,
        'target', a.target, 'result', a.result, 'message', a.message, 'peer', a.peer, 'count', a.count),
      'time', to_jsonb(now()))
    FROM unnest(${entries.map((e) => e.verb)}::text[], ${entries.map((e) => e.tokenId)}::text[], ${entries.map((e) => e.role)}::text[],
      ${entries.map((e) => e.project)}::text[], ${entries.map((e) => e.method)}::text[], ${entries.map((e) => e.target)}::text[],
      ${entries.map((e) => e.result)}::text[], ${entries.map((e) => e.message)}::text[],
      ${entries.map((e) => e.peer ?? "")}::text[], ${entries.map((e) => e.count ?? 1)}::int[])
      AS a(verb, token_id, role, project, method, target, result, message, peer, count)`;
}
