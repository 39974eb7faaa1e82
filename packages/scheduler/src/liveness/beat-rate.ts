// The beat-rate cap (DROVER_MAX_HEARTBEATS_PER_SECOND), as Nomad's servers bound the heartbeats
// they take (nomad/heartbeat.go: a TTL of at least nodes / max_heartbeats_per_second): at 10,000
// nodes every 2 s a replica spent ~30 % of a core on beats alone, most of it node's own TLS and
// HTTP/2 read of each message (docs/benchmarks.md), so only fewer beats bring it down. The replica
// tells each agent on its stream the shortest interval it may beat at (its floor); each beat says
// the interval the agent beats at, and the node's timeout after that beat is scaled from it
// (beatTimeoutMs), recorded with the beat: every replica judges the node by what the node itself
// said, whatever interval any replica told it. Pure but for the floor's own memory.

export interface BeatRateConfig {
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  /** Beats a second the replica takes at most; 0: no cap. */
  maxHeartbeatsPerSecond: number;
}

/** How far below a floor's threshold the count must fall before the floor comes down: a count hovering at a threshold would retell every agent on each crossing. */
export const FLOOR_HYSTERESIS = 0.9;

/**
 * The interval `nodes` agents must keep apart for the cap to hold, in whole seconds (rounded up,
 * as RegisterNode's heartbeat_interval_seconds carries intervals and so the cap holds), or 0 when
 * the configured interval already keeps within it.
 */
export function cappedFloorMs(c: BeatRateConfig, nodes: number): number {
  if (c.maxHeartbeatsPerSecond <= 0) return 0;
  // Whether a floor is needed at all is judged on the exact interval: rounded up first, one node
  // under a configured interval below a second got a floor of 1 s (its agent beat slower than asked).
  const exactMs = (nodes / c.maxHeartbeatsPerSecond) * 1000;
  return exactMs > c.heartbeatIntervalMs ? Math.ceil(exactMs / 1000) * 1000 : 0;
}

/**
 * The silence after a beat that makes its node DOWN: the configured timeout, scaled by the
 * configured timeout-to-interval ratio when the agent said it beats slower than configured
 * (`intervalMs`; 0 from agents that say nothing: they beat at most at the configured interval).
 */
export function beatTimeoutMs(c: Pick<BeatRateConfig, "heartbeatIntervalMs" | "heartbeatTimeoutMs">, intervalMs: number): number {
  if (intervalMs <= c.heartbeatIntervalMs) return c.heartbeatTimeoutMs;
  return Math.max(c.heartbeatTimeoutMs, Math.ceil((c.heartbeatTimeoutMs * intervalMs) / c.heartbeatIntervalMs));
}

/**
 * The floor this replica tells agents, for the nodes it hears now. It rises at once (an agent
 * slows only after its next beat, which already carries the longer interval and so the longer
 * timeout) and comes down once the count is {@link FLOOR_HYSTERESIS} below the threshold.
 */
export class BeatFloor {
  private current = 0;
  /** The highest floor told lately, and when it was last the floor (heldMs). */
  private peak = 0;
  private peakAt = 0;

  constructor(
    private readonly config: BeatRateConfig,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The floor (ms, 0: none) for `nodes` heartbeating nodes; cheap enough for every beat. */
  floorMs(nodes: number): number {
    const needed = cappedFloorMs(this.config, nodes);
    if (needed >= this.current) this.current = needed;
    else this.current = Math.min(this.current, cappedFloorMs(this.config, nodes / FLOOR_HYSTERESIS));
    this.heldMs();
    return this.current;
  }

  /**
   * The highest floor told within the last `holdMs`: an agent told a floor that has since come
   * down beats at it until its next beat's answer tells it the new one.
   */
  heldMs(holdMs = BEAT_BOUND_HOLD_MS): number {
    const now = this.now();
    if (this.current >= this.peak || now - this.peakAt > holdMs) {
      this.peak = this.current;
      this.peakAt = now;
    }
    return this.peak;
  }
}

/** How long BeatFloor.heldMs() keeps a floor that came down. */
export const BEAT_BOUND_HOLD_MS = 60_000;

/**
 * The longest silence after a beat this replica allows a correct agent (liveness bounds every
 * node's recorded timeout by the longest a live replica allows, store's beat-bounds.ts): a correct
 * agent beats at the configured interval, or at the floor it was told (`floorMs`), never slower; the
 * floor counts twice, for its agents' jitter and a floor that rose since the bound was written.
 */
export function beatBoundMs(c: Pick<BeatRateConfig, "heartbeatIntervalMs" | "heartbeatTimeoutMs">, floorMs: number): number {
  return beatTimeoutMs(c, 2 * floorMs);
}
