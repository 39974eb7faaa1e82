import { markSilentNodesDown, markVmsLost, requeueExpiredLeases, tickLivenessWindow, type Sql } from "@drover/store";

/**
 * The longest pause between liveness ticks that still counts as watching:
 * longer, and heartbeats may have gone unrecorded, so the window restarts.
 * Half the timeout, and never below a few tick periods (ticks run every
 * min(1 s, timeout / 4) and a busy replica may be late).
 */
export function livenessGapMs(heartbeatTimeoutMs: number): number {
  return Math.max(heartbeatTimeoutMs / 2, 3 * Math.min(1000, heartbeatTimeoutMs / 4));
}

/**
 * Marks DOWN the nodes that stopped heartbeating (their VMs LOST) and hands
 * back PROVISIONING work whose lease ran out. Silence counts only while the
 * scheduler was able to hear: after an outage of the database (or of every
 * replica) each node gets a fresh timeout (tickLivenessWindow). Every
 * statement is idempotent, so all replicas may run it.
 */
export async function livenessTick(sql: Sql, heartbeatTimeoutMs: number, log: (m: string) => void): Promise<void> {
  await sql.begin(async (tx) => {
    const windowStart = await tickLivenessWindow(tx, livenessGapMs(heartbeatTimeoutMs));
    const down = await markSilentNodesDown(tx, heartbeatTimeoutMs);
    if (down.length === 0) return;
    const lost = await markVmsLost(
      tx,
      down.map((n) => n.name),
    );
    log(
      `nodes DOWN (no heartbeat for ${heartbeatTimeoutMs} ms, heard since ${windowStart.toISOString()}): ${down.map((n) => n.name).join(", ")}; ${lost.length} VMs LOST`,
    );
  });
  const requeued = await requeueExpiredLeases(sql);
  if (requeued.length > 0) log(`requeued ${requeued.length} VMs whose dispatch lease expired`);
}
