import type { Db } from "./db.js";

/**
 * How long a replica's bound counts after its last liveness tick wrote it. A replica that stopped
 * ticking has stopped serving too: its agents' streams ended, and the replica they moved to tells
 * them its own floor (and writes its own bound) at their next beat.
 */
export const BEAT_BOUND_HELD_MS = 60_000;

/**
 * Records the longest timeout this replica allows a correct agent's beat now (its liveness tick;
 * markSilentNodesDown bounds every node's timeout by the longest live one). Replicas gone for an
 * hour are forgotten.
 */
export async function recordBeatBound(db: Db, replica: string, timeoutMs: number): Promise<void> {
  await db`
    WITH gone AS (DELETE FROM beat_bounds WHERE told_at < now() - interval '1 hour' AND replica <> ${replica})
    INSERT INTO beat_bounds (replica, timeout_ms) VALUES (${replica}, ${Math.ceil(timeoutMs)})
    ON CONFLICT (replica) DO UPDATE SET timeout_ms = EXCLUDED.timeout_ms, told_at = now()`;
}
