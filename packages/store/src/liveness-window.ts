import type { Db } from "./db.js";

/** How a liveness tick judges the time since the previous one (any replica's). */
export interface TickGaps {
  /** A tick this late after the previous one is still watching; beyond it, the excess was unheard. */
  allowanceMs: number;
  /** A tick later than this restarts the window: every node gets a whole fresh timeout. */
  restartAfterMs: number;
}

/**
 * Records that a liveness tick ran now, and returns the observation window: since when the
 * scheduler has been able to record heartbeats without a long gap, and how much time it could
 * not hear in all. Silence the scheduler could not have heard is no evidence against a node:
 * - the part of a gap beyond `allowanceMs` (no replica ran, or the database was out of reach) is
 *   added to `unheard_ms`, which markSilentNodesDown subtracts from each node's silence;
 * - a gap beyond `restartAfterMs` also restarts the window, so each node has a whole timeout
 *   from now to be heard again (its agent may need a moment to reconnect).
 * One shared row updated in place, so every replica sees the same window.
 */
export async function tickLivenessWindow(db: Db, gaps: TickGaps): Promise<{ startedAt: Date; unheardMs: number }> {
  const [row] = await db<{ started_at: Date; unheard_ms: number }[]>`
    UPDATE liveness_window SET
      unheard_ms = unheard_ms + CASE WHEN last_tick_at = '-infinity' THEN 0
        ELSE greatest(0, extract(epoch FROM now() - last_tick_at) * 1000 - ${gaps.allowanceMs}) END,
      started_at = CASE WHEN last_tick_at < now() - make_interval(secs => ${gaps.restartAfterMs / 1000}) THEN now() ELSE started_at END,
      last_tick_at = greatest(last_tick_at, now())
    RETURNING started_at, unheard_ms`;
  return { startedAt: row!.started_at, unheardMs: row!.unheard_ms };
}
