import type { Db } from "./db.js";

// How an outbox row becomes its events (migration 024): the one place that says so, for the
// sequencer and readers (outbox.ts) and for the tests' outboxEvents (testing.ts). Not exported
// from index.ts: these are fragments of statements, not queries.

/**
 * Per outbox row, in id order (the order the sequencer numbers them), how many events the rows up
 * to and including it hold: a fan-out row one per VM, any other row one.
 */
export function eventsThroughRow(db: Db) {
  return db`sum(coalesce(cardinality(vm_ids), 1)) OVER (ORDER BY id)`;
}

/**
 * The events of the outbox row `o` (seq, payload, vm_ids, nodes) whose seq is above `afterSeq`, for
 * a CROSS JOIN LATERAL: a row without vm_ids is its one event, at its seq (the caller picks which
 * such rows); a fan-out row one per VM, the payload with the VM's vmId and node added, numbered so
 * that the last is the row's seq. The arrays are read once per row (unnest, counted by a window):
 * every other reference would fetch and copy them again from TOAST.
 */
export function rowEvents(db: Db, afterSeq: number) {
  return db`
      SELECT o.seq AS seq, o.payload AS payload WHERE o.vm_ids IS NULL
      UNION ALL
      SELECT o.seq - x.n + x.i, o.payload || jsonb_build_object('vmId', x.vm_id, 'node', x.node)
      FROM (SELECT u.vm_id, u.node, u.i, count(*) OVER () AS n
            FROM unnest(o.vm_ids, o.nodes) WITH ORDINALITY AS u(vm_id, node, i)) x
      WHERE o.vm_ids IS NOT NULL AND o.seq - x.n + x.i > ${afterSeq}`;
}
