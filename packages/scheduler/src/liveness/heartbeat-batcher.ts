import { ReconcileGate } from "./reconcile-gate.js";
import { ReconcileReads } from "./reconcile-reads.js";
import { ReportMemo } from "./report-memo.js";
import { recordHeartbeatColumns, reviveNodes, type HeartbeatStamp, type NodeStateName, type RecordedBeat, type Sql } from "@drover/store";

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

/**
 * A beat waiting for its batch, as the batcher reads it. A stream keeps one for all its beats
 * (heartbeat-stream.ts): at 5,000 beats a second a promise and an object per beat were a good part
 * of what a beat cost. A beat arriving while the slot is still queued takes its place (it is the
 * newer one: the record keeps the highest seq anyway); one arriving after its batch went out is
 * queued again, and the batch already holds what the earlier one carried.
 */
export interface BeatSlot<P = unknown> {
  name: string;
  bootId: string;
  seq: number;
  /** performance.now() when the beat arrived: it is recorded as of then. */
  arrived: number;
  /** The node's timeout after this beat (heartbeat.ts stampBeat). */
  timeoutMs: number;
  /** What the beat's owner needs back with its record (a stream's decoded beat). */
  payload: P;
  /** Set by the batcher while the slot is in the batch being gathered. */
  queued: boolean;
  /** The node's state after the beat and whether it was fresh (null: unknown node), with the payload, arrival and timeout the batch took. */
  recorded(beat: RecordedBeat | null, payload: P, arrived: number, timeoutMs: number): void;
  failed(err: unknown): void;
}

/** A batch on its way to the database: column i is slot i's beat as it was when the batch went. */
interface Batch {
  slots: BeatSlot[];
  payloads: unknown[];
  arrived: number[];
  names: string[];
  timeoutsMs: number[];
}

/**
 * Group commit for heartbeats: the beats that arrive within {@link HEARTBEAT_LINGER_MS} are
 * recorded in one statement (most of the scheduler's queries were heartbeats before), each as of
 * when it arrived. Give it a pool of its own (server.ts): behind a bulk's dispatch statements in
 * the shared pool, beats waited long enough to look late. The batch's DOWN nodes are revived after
 * it, together, as that writes their events.
 */
export class HeartbeatBatcher {
  private queue: BeatSlot[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** performance.now() when the queued batch is due. */
  private dueAt = 0;
  /** The nodes of batches sent and not settled: liveness does not judge them. */
  private readonly inFlight = new Set<string[]>();

  constructor(
    private readonly sql: Sql,
    private readonly lingerMs = HEARTBEAT_LINGER_MS,
    /** When a beat may reconcile its node's domain states (reconcile-gate.ts). */
    readonly reconciles = new ReconcileGate(),
    /** Which nodes' reports are unchanged since their last reconcile (report-memo.ts). */
    readonly reports = new ReportMemo(),
    /** The reconciles' reads, many nodes a statement (reconcile-reads.ts); give it the shared pool. */
    readonly reads = new ReconcileReads(sql),
  ) {}

  /**
   * Records a beat; the node's state after it and whether the beat is fresh, or null when the node
   * is unknown. `lingerMs` (default the batcher's) is how long this beat may wait for others: the
   * batch goes when its most hurried beat is due.
   */
  record(beat: HeartbeatStamp, arrived = performance.now(), lingerMs = this.lingerMs): Promise<RecordedBeat | null> {
    return new Promise<RecordedBeat | null>((resolve, reject) => {
      const slot: BeatSlot = { name: beat.name, bootId: beat.bootId, seq: beat.seq, arrived, timeoutMs: beat.timeoutMs ?? 0, payload: undefined, queued: false, recorded: resolve, failed: reject };
      this.enqueue(slot, lingerMs);
    });
  }

  /** Queues the slot's beat (its fields as the caller set them); no-op but for the timer when it is queued already. */
  enqueue(slot: BeatSlot, lingerMs = this.lingerMs): void {
    if (!slot.queued) {
      slot.queued = true;
      this.queue.push(slot);
    }
    const due = slot.arrived + lingerMs;
    if (this.timer !== undefined && due >= this.dueAt) return;
    clearTimeout(this.timer);
    this.dueAt = due;
    this.timer = setTimeout(() => void this.flush(), Math.max(0, due - performance.now()));
  }

  /** Nodes with a beat this replica received but has not recorded (or failed to record) yet. */
  pendingNodes(): string[] {
    const names = new Set<string>();
    for (const slot of this.queue) names.add(slot.name);
    for (const batch of this.inFlight) for (const name of batch) names.add(name);
    return [...names];
  }

  private async flush(): Promise<void> {
    const slots = this.queue;
    this.queue = [];
    this.timer = undefined;
    const n = slots.length;
    const timeoutsMs = new Array<number>(n);
    const batch: Batch = { slots, payloads: new Array<unknown>(n), arrived: new Array<number>(n), names: new Array<string>(n), timeoutsMs };
    const bootIds = new Array<string>(n);
    const seqs = new Array<number>(n);
    const waitedMs = new Array<number>(n);
    const now = performance.now();
    for (let i = 0; i < n; i++) {
      const slot = slots[i]!;
      slot.queued = false;
      batch.names[i] = slot.name;
      bootIds[i] = slot.bootId;
      seqs[i] = slot.seq;
      waitedMs[i] = now - slot.arrived;
      timeoutsMs[i] = slot.timeoutMs;
      batch.arrived[i] = slot.arrived;
      batch.payloads[i] = slot.payload;
    }
    this.inFlight.add(batch.names);
    let recorded: Map<string, RecordedBeat>;
    try {
      recorded = await recordHeartbeatColumns(this.sql, { names: batch.names, bootIds, seqs, waitedMs, timeoutsMs });
    } catch (err) {
      this.inFlight.delete(batch.names);
      for (const slot of slots) slot.failed(err);
      return;
    }
    this.inFlight.delete(batch.names);
    const down: number[] = [];
    for (let i = 0; i < n; i++) {
      const beat = recorded.get(batch.names[i]!);
      if (beat?.state === "DOWN") down.push(i);
      else slots[i]!.recorded(beat ?? null, batch.payloads[i], batch.arrived[i]!, timeoutsMs[i]!);
    }
    if (down.length > 0) void this.revive(batch, down, recorded);
  }

  /** The batch's DOWN nodes back, in one statement (a whole fleet returns at once after an outage). */
  private async revive(batch: Batch, down: number[], recorded: Map<string, RecordedBeat>): Promise<void> {
    const names = [...new Set(down.map((i) => batch.names[i]!))];
    this.inFlight.add(names);
    let states: Map<string, NodeStateName>;
    try {
      states = await reviveNodes(this.sql, names);
    } catch (err) {
      this.inFlight.delete(names);
      for (const i of down) batch.slots[i]!.failed(err);
      return;
    }
    this.inFlight.delete(names);
    for (const i of down) {
      const name = batch.names[i]!;
      batch.slots[i]!.recorded({ ...recorded.get(name)!, state: states.get(name) ?? "DOWN", revived: true }, batch.payloads[i], batch.arrived[i]!, batch.timeoutsMs[i]!);
    }
  }
}
