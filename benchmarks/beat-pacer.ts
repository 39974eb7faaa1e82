// How a simulated fleet keeps each node's beats as a real agent does (packages/agent/src/
// beat-interval.ts): the fleet visits every node once per base interval, and a node told a
// beat-rate floor (StreamHeartbeatsResponse.min_heartbeat_interval_ms) beats only every k-th
// visit, k the floor over the base rounded up. As the agent, a floor told takes effect after the
// node's next beat, and each beat says the interval to the next one (HeartbeatRequest.interval_ms),
// so the scheduler times the node's silence by it.

export class BeatPacer {
  /** Visits between beats: now, and from the next beat on. */
  private readonly every: Uint16Array;
  private readonly next: Uint16Array;
  private readonly visits: Uint16Array;

  constructor(
    nodes: number,
    private readonly baseMs: number,
  ) {
    this.every = new Uint16Array(nodes).fill(1);
    this.next = new Uint16Array(nodes).fill(1);
    this.visits = new Uint16Array(nodes);
  }

  /** Whether node i beats on this visit; if so, call {@link saidMs} for what the beat says. */
  due(i: number): boolean {
    if (++this.visits[i]! < this.every[i]!) return false;
    this.visits[i] = 0;
    this.every[i] = this.next[i]!;
    return true;
  }

  /** The interval (ms) to node i's next beat, as its beat says it. */
  saidMs(i: number): number {
    return this.every[i]! * this.baseMs;
  }

  /** A floor the scheduler told node i (0: none). */
  told(i: number, floorMs: number): void {
    this.next[i] = Math.max(1, Math.ceil(floorMs / this.baseMs));
  }

  /** How many nodes beat slower than the base now. */
  slowed(): number {
    let n = 0;
    for (const e of this.every) if (e > 1) n++;
    return n;
  }
}
