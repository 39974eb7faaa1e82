import { markSilentNodesDown, markVmsLost, requeueExpiredLeases, type Sql } from "@drover/store";

/**
 * Marks DOWN the nodes that stopped heartbeating (their VMs LOST) and hands
 * back PROVISIONING work whose lease ran out. Every statement is idempotent,
 * so all replicas may run it.
 */
export async function livenessTick(sql: Sql, heartbeatTimeoutMs: number, log: (m: string) => void): Promise<void> {
  await sql.begin(async (tx) => {
    const down = await markSilentNodesDown(tx, heartbeatTimeoutMs);
    if (down.length === 0) return;
    const lost = await markVmsLost(
      tx,
      down.map((n) => n.name),
    );
    log(`nodes DOWN (no heartbeat for ${heartbeatTimeoutMs} ms): ${down.map((n) => n.name).join(", ")}; ${lost.length} VMs LOST`);
  });
  const requeued = await requeueExpiredLeases(sql);
  if (requeued.length > 0) log(`requeued ${requeued.length} VMs whose dispatch lease expired`);
}
