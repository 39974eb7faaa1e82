// VM retention: DELETED and FAILED VMs leave the database some time after they died, so the
// tables and indexes the hot paths read stop growing with history (issue 13).
import type { Db } from "./db.js";

export interface PurgedVms {
  vms: number;
  requests: number;
}

/**
 * Deletes up to `limit` VMs that have been DELETED or FAILED, unchanged, for `olderThanMs`,
 * oldest first, and the create requests none of whose VMs are left. Never a VM that holds a
 * claim (a FAILED VM has given its claim back, so node and project totals, which sum claimed
 * VMs only, do not move), one another transaction has locked, or one with an event not yet
 * sequenced, or not yet published to NATS when `publishedOnly`: a subscriber that reads an event
 * can still look the VM up. Events themselves stay for event retention.
 */
export async function purgeVms(db: Db, olderThanMs: number, publishedOnly: boolean, limit = 1000): Promise<PurgedVms> {
  const [row] = await db<{ vms: number; requests: number }[]>`
    WITH pending AS (
      -- Normally a handful of rows: events from the last tick or two (NATS down: its backlog).
      -- A fan-out row (migration 024) names its VMs in vm_ids; one published in part counts whole.
      SELECT DISTINCT coalesce(x.vm_id::text, o.payload->>'vmId') AS vm_id
      FROM outbox o LEFT JOIN LATERAL unnest(o.vm_ids) AS x(vm_id) ON true
      WHERE o.seq IS NULL OR (${publishedOnly} AND o.seq > (SELECT seq FROM outbox_published))
    ), gone AS (
      -- ARRAY(…) runs once, as an InitPlan, before the DELETE reads a row: the LIMIT and the locks
      -- hold, and the rows are then found by primary key.
      DELETE FROM vms WHERE id = ANY(ARRAY(
        SELECT id FROM vms
        WHERE state IN ('DELETED', 'FAILED') AND updated_at < now() - make_interval(secs => ${olderThanMs / 1000})
          AND NOT claimed AND id::text NOT IN (SELECT vm_id FROM pending WHERE vm_id IS NOT NULL)
        ORDER BY updated_at LIMIT ${limit}
        FOR UPDATE SKIP LOCKED))
      -- Re-checked on the locked row version.
      AND state IN ('DELETED', 'FAILED') AND NOT claimed
      RETURNING id, request_id
    ), requests AS (
      -- The requests of the VMs gone and old ones that placed nothing, unless a VM of theirs is
      -- left (this statement still sees the rows gone deletes, hence NOT IN gone).
      DELETE FROM create_requests r
      WHERE r.id = ANY(ARRAY(
          SELECT request_id FROM gone WHERE request_id IS NOT NULL
          UNION
          (SELECT id FROM create_requests
           WHERE cardinality(vm_ids) = 0 AND created_at < now() - make_interval(secs => ${olderThanMs / 1000})
           ORDER BY created_at LIMIT ${limit})))
        AND NOT EXISTS (SELECT 1 FROM vms v WHERE v.id = ANY(r.vm_ids) AND v.id NOT IN (SELECT id FROM gone))
      RETURNING r.id
    )
    SELECT (SELECT count(*) FROM gone)::int AS vms, (SELECT count(*) FROM requests)::int AS requests`;
  return row!;
}
