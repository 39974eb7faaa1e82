import { foldVmChanges, markSilentNodesDown, markVmsLost, recordBeatBound, requeueExpiredLeases, tickLivenessWindow, type Sql, type TickGaps, transaction } from "@drover/store";

/** What this replica allows a correct agent's beat (beat-rate.ts's beatBoundMs), written each tick under its id. */
export interface ReplicaBeatBound {
  replica: string;
  timeoutMs(): number;
}

/** How often liveness runs: a few times per timeout, at most every second. */
export function livenessPeriodMs(heartbeatTimeoutMs: number): number {
  return Math.min(1000, heartbeatTimeoutMs / 4);
}

/**
 * How the time between two liveness ticks counts. Up to two periods is a tick's normal lateness
 * (a busy replica) and counts as watching; what a longer pause lasted beyond that was unheard
 * and is taken from every node's silence. A pause of half the timeout (and never below a few
 * periods) also restarts the window: every node gets a whole timeout to be heard again, as its
 * agent may need a moment to reconnect to a restarted scheduler.
 */
export function livenessGaps(heartbeatTimeoutMs: number): TickGaps {
  const period = livenessPeriodMs(heartbeatTimeoutMs);
  return { allowanceMs: 2 * period, restartAfterMs: Math.max(heartbeatTimeoutMs / 2, 3 * period) };
}

/**
 * Marks DOWN the nodes that stopped heartbeating (their VMs LOST) and hands back PROVISIONING
 * work whose lease ran out. Silence counts only while the scheduler was able to hear: the time
 * no replica ticked (the database was out of reach, or no replica ran) is not counted against a
 * node (tickLivenessWindow), and nodes whose beat this replica holds unrecorded (`pending`) are
 * not judged. Every statement is idempotent, so all replicas may run it.
 */
export async function livenessTick(
  sql: Sql,
  heartbeatTimeoutMs: number,
  log: (m: string) => void,
  pending: () => readonly string[] = () => [],
  /** Written before the judgement, which bounds every node's timeout by the replicas' bounds; none: this replica writes none. */
  bound?: ReplicaBeatBound,
): Promise<void> {
  await transaction(sql, async (tx) => {
    if (bound) await recordBeatBound(tx, bound.replica, bound.timeoutMs());
    const window = await tickLivenessWindow(tx, livenessGaps(heartbeatTimeoutMs));
    const down = await markSilentNodesDown(tx, heartbeatTimeoutMs, pending());
    if (down.length === 0) return;
    const lost = await markVmsLost(
      tx,
      down.map((n) => n.name),
    );
    log(
      `nodes DOWN (not heard for ${heartbeatTimeoutMs} ms, or the longer timeout their last beat was recorded with; window since ${window.startedAt.toISOString()}, ${Math.round(window.unheardMs)} ms unheard in all): ` +
        `${down.map((n) => n.name).join(", ")}; ${lost.length} VMs LOST`,
    );
  });
  const requeued = await requeueExpiredLeases(sql);
  if (requeued.length > 0) log(`requeued ${requeued.length} VMs whose dispatch lease expired`);
  // Keeps the change rows each heartbeat counts few (vm-changes.ts).
  await foldVmChanges(sql);
}
