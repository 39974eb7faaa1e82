import type { Db } from "./db.js";

/**
 * Records that a liveness tick ran now, and returns when the current
 * observation window started: the time since which the scheduler has been
 * able to record heartbeats without a gap. A tick that comes more than
 * `gapMs` after the previous one (the database was out of reach, or no
 * replica ran) restarts the window, so every node gets a fresh grace period:
 * silence the scheduler could not have heard is no evidence against a node.
 * One shared row updated in place, so every replica sees the same window.
 */
export async function tickLivenessWindow(db: Db, gapMs: number): Promise<Date> {
  const [row] = await db<{ started_at: Date }[]>`
    UPDATE liveness_window SET
      started_at = CASE WHEN last_tick_at < now() - make_interval(secs => ${gapMs / 1000}) THEN now() ELSE started_at END,
      last_tick_at = greatest(last_tick_at, now())
    RETURNING started_at`;
  return row!.started_at;
}
