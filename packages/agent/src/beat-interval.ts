// How often the agent beats. The scheduler asks for two things: at most its configured interval
// (RegisterNode's heartbeat_interval_seconds; an agent configured slower beats that often anyway,
// so its node is never judged by a timeout it cannot keep), and, when its beat-rate cap
// (DROVER_MAX_HEARTBEATS_PER_SECOND) holds at the cluster's size, no more often than a floor
// (StreamHeartbeatsResponse.min_heartbeat_interval_ms). The floor wins: the scheduler scales the
// node's timeout with the interval each beat says (HeartbeatRequest.interval_ms).

/** The interval to beat at: the shorter of our own and the registered one, and never below the floor (0: none). */
export function beatIntervalMs(ownMs: number, registeredMs: number, floorMs: number): number {
  const asked = registeredMs > 0 ? Math.min(ownMs, registeredMs) : ownMs;
  return Math.max(asked, floorMs);
}
