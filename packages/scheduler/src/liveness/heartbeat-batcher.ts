import { recordHeartbeats, reviveNode, type HeartbeatStamp, type RecordedBeat, type Sql } from "@drover/store";

/**
 * How long the first heartbeat of a batch waits for others. Every agent beats every few seconds
 * (1,000 agents at 5 s are 200 a second); 20 ms more on a beat is nothing next to the seconds of a
 * timeout, and it turns one statement per beat into one per few beats.
 */
export const HEARTBEAT_LINGER_MS = 20;

interface Waiting {
  beat: HeartbeatStamp;
  resolve(recorded: RecordedBeat | null): void;
  reject(err: unknown): void;
}

/**
 * Group commit for heartbeats: the beats that arrive within {@link HEARTBEAT_LINGER_MS} are
 * recorded in one statement (most of the scheduler's queries were heartbeats before).
 * A DOWN node is revived on its own, as it writes an event.
 */
export class HeartbeatBatcher {
  private queue: Waiting[] = [];

  constructor(
    private readonly sql: Sql,
    private readonly lingerMs = HEARTBEAT_LINGER_MS,
  ) {}

  /** Records a beat; the node's state after it and whether the beat is fresh, or null when the node is unknown. */
  record(beat: HeartbeatStamp): Promise<RecordedBeat | null> {
    return new Promise((resolve, reject) => {
      this.queue.push({ beat, resolve, reject });
      if (this.queue.length === 1) setTimeout(() => void this.flush(), this.lingerMs);
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    let recorded: Map<string, RecordedBeat>;
    try {
      recorded = await recordHeartbeats(
        this.sql,
        batch.map((w) => w.beat),
      );
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    for (const w of batch) {
      const beat = recorded.get(w.beat.name);
      if (beat?.state !== "DOWN") w.resolve(beat ?? null);
      else reviveNode(this.sql, w.beat.name).then((state) => w.resolve({ ...beat, state }), w.reject);
    }
  }
}
