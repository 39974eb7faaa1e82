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
 * A request counts its VMs left (vms_left, migration 036): lowered here for the VMs gone, and the
 * request deleted once it reaches 0, by a second statement (one statement cannot change a row
 * twice). Should that one not run, the request goes with the old ones that placed nothing, whose
 * count is 0 too. Requests from before the count go when none of their vm_ids is left.
 */
export async function purgeVms(db: Db, olderThanMs: number, publishedOnly: boolean, limit = 1000): Promise<PurgedVms> {
  const [row] = await db<{ vms: number; requests: number; emptied: string[] }[]>`
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
    ), per_request AS (
      SELECT request_id, count(*)::int AS n FROM gone WHERE request_id IS NOT NULL GROUP BY request_id
    ), counted AS (
      -- Applied to the newest row version: purges racing on one request's VMs both count.
      UPDATE create_requests r SET vms_left = r.vms_left - g.n
      FROM per_request g WHERE r.id = g.request_id AND r.vms_left IS NOT NULL
      RETURNING r.id, r.vms_left
    ), requests AS (
      -- The uncounted requests of the VMs gone, unless a VM of theirs is left (this statement still
      -- sees the rows gone deletes, hence NOT IN gone), and old ones with no VM (left).
      DELETE FROM create_requests r
      WHERE r.id = ANY(ARRAY(
          SELECT request_id FROM per_request
          UNION
          (SELECT id FROM create_requests
           WHERE coalesce(vms_left, cardinality(vm_ids)) = 0 AND created_at < now() - make_interval(secs => ${olderThanMs / 1000})
           ORDER BY created_at LIMIT ${limit})))
        AND (r.vms_left IS NULL AND NOT EXISTS (SELECT 1 FROM vms v WHERE v.id = ANY(r.vm_ids) AND v.id NOT IN (SELECT id FROM gone))
          OR r.vms_left = 0 AND r.id NOT IN (SELECT id FROM counted))
      RETURNING r.id
    )
    SELECT (SELECT count(*) FROM gone)::int AS vms, (SELECT count(*) FROM requests)::int AS requests,
      ARRAY(SELECT id FROM counted WHERE vms_left = 0)::text[] AS emptied`;
  const emptied = row!.emptied.length === 0 ? [] : await db`DELETE FROM create_requests WHERE id = ANY(${row!.emptied}::uuid[]) AND vms_left = 0 RETURNING id`;
  return { vms: row!.vms, requests: row!.requests + emptied.length };
}
