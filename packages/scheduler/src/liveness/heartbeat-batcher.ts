import { ReconcileGate } from "./reconcile-gate.js";
import { ReportMemo } from "./report-memo.js";
import { recordHeartbeats, reviveNodes, type HeartbeatStamp, type NodeStateName, type RecordedBeat, type Sql } from "@drover/store";

/**
 * How long the first heartbeat of a batch waits for others. Every agent beats every few seconds
 * (1,000 agents at 5 s are 200 a second); 20 ms more on a beat is nothing next to the seconds of a
 * timeout, and it turns one statement per beat into one per few beats.
 */
export const HEARTBEAT_LINGER_MS = 20;

/**
 * How long a beat that nobody waits on (one on a StreamHeartbeats stream, answered only when there
 * is something to say) may wait for others. Each statement cost the scheduler ~0.5 ms of CPU in
 * the socket write alone on the loaded benchmark machine; at 5,000 beats a second a 20 ms linger
 * made 50 of them a second, this makes 4, of 1,250 beats each. A beat is recorded as of when it
 * arrived, and liveness does not judge a node with a beat waiting here, so 250 ms costs nothing.
 */
export const STREAM_LINGER_MS = 250;

interface Waiting {
  beat: HeartbeatStamp;
  /** performance.now() when the beat arrived. */
  arrived: number;
  resolve(recorded: RecordedBeat | null): void;
  reject(err: unknown): void;
}

/**
 * Group commit for heartbeats: the beats that arrive within {@link HEARTBEAT_LINGER_MS} are
 * recorded in one statement (most of the scheduler's queries were heartbeats before), each as of
 * when it arrived. Give it a pool of its own (server.ts): behind a bulk's dispatch statements in
 * the shared pool, beats waited long enough to look late. The batch's DOWN nodes are revived after
 * it, together, as that writes their events.
 */
export class HeartbeatBatcher {
  private queue: Waiting[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** performance.now() when the queued batch is due. */
  private dueAt = 0;
  /** Beats received and not recorded yet, per node: liveness does not judge those nodes. */
  private readonly unrecorded = new Map<string, number>();

  constructor(
    private readonly sql: Sql,
    private readonly lingerMs = HEARTBEAT_LINGER_MS,
    /** When a beat may reconcile its node's domain states (reconcile-gate.ts). */
    readonly reconciles = new ReconcileGate(),
    /** Which nodes' reports are unchanged since their last reconcile (report-memo.ts). */
    readonly reports = new ReportMemo(),
  ) {}

  /**
   * Records a beat; the node's state after it and whether the beat is fresh, or null when the node
   * is unknown. `lingerMs` (default the batcher's) is how long this beat may wait for others: the
   * batch goes when its most hurried beat is due.
   */
  record(beat: HeartbeatStamp, arrived = performance.now(), lingerMs = this.lingerMs): Promise<RecordedBeat | null> {
    this.unrecorded.set(beat.name, (this.unrecorded.get(beat.name) ?? 0) + 1);
    return new Promise<RecordedBeat | null>((resolve, reject) => {
      this.queue.push({ beat, arrived, resolve, reject });
      const due = arrived + lingerMs;
      if (this.timer !== undefined && due >= this.dueAt) return;
      clearTimeout(this.timer);
      this.dueAt = due;
      this.timer = setTimeout(() => void this.flush(), Math.max(0, due - performance.now()));
    });
  }

  /** The beat is recorded, or failed to be: no longer pending. (Here, not in a then() per beat: thousands a second.) */
  private settled(name: string): void {
    const n = (this.unrecorded.get(name) ?? 1) - 1;
    if (n > 0) this.unrecorded.set(name, n);
    else this.unrecorded.delete(name);
  }

  /** Nodes with a beat this replica received but has not recorded (or failed to record) yet. */
  pendingNodes(): string[] {
    return [...this.unrecorded.keys()];
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.timer = undefined;
    let recorded: Map<string, RecordedBeat>;
    try {
      const now = performance.now();
      recorded = await recordHeartbeats(
        this.sql,
        batch.map((w) => ({ ...w.beat, waitedMs: now - w.arrived })),
      );
    } catch (err) {
      for (const w of batch) {
        this.settled(w.beat.name);
        w.reject(err);
      }
      return;
    }
    const down: Waiting[] = [];
    for (const w of batch) {
      const beat = recorded.get(w.beat.name);
      if (beat?.state === "DOWN") {
        down.push(w);
        continue;
      }
      this.settled(w.beat.name);
      w.resolve(beat ?? null);
    }
    if (down.length > 0) void this.revive(down, recorded);
  }

  /** The batch's DOWN nodes back, in one statement (a whole fleet returns at once after an outage). */
  private async revive(down: Waiting[], recorded: Map<string, RecordedBeat>): Promise<void> {
    let states: Map<string, NodeStateName>;
    try {
      states = await reviveNodes(this.sql, [...new Set(down.map((w) => w.beat.name))]);
    } catch (err) {
      for (const w of down) {
        this.settled(w.beat.name);
        w.reject(err);
      }
      return;
    }
    for (const w of down) {
      this.settled(w.beat.name);
      const beat = recorded.get(w.beat.name)!;
      w.resolve({ ...beat, state: states.get(w.beat.name) ?? "DOWN", revived: true });
    }
  }
}
