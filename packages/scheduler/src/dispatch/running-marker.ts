import { markRunningCounted, type MarkedOnNode, type Sql } from "@drover/store";

interface Started {
  id: string;
  generation: number;
  /** `deleted`: the VM was DELETING (deleted during its dispatch), not marked. */
  done(deleted: boolean): void;
  failed(err: unknown): void;
}

/** Who hears what a mark wrote, once committed (the replica's heartbeat memo: liveness/report-memo.ts). */
export interface RunningMarks {
  marked(nodes: readonly MarkedOnNode[]): void;
}

/**
 * Group commit for RUNNING: the VMs whose EnsureDomain succeeds while an update is under way
 * share the next statement, and one statement is in flight at a time. (Flushing on every
 * setImmediate instead sent one statement per event-loop turn: under load, about one per VM, as
 * the agents' answers come in one by one.) Only a VM still PROVISIONING becomes RUNNING (a
 * delete that came in meanwhile wins, and mark() answers true for it); the reason of an earlier
 * failed attempt stays, as the last failure seen. Each statement's marks, and the node counts it
 * read, go to `marks`: the beat after them may take the heartbeat fast path.
 */
export class RunningMarker {
  private started: Started[] = [];
  private flushing = false;

  constructor(
    private readonly sql: Sql,
    private readonly marks?: RunningMarks,
  ) {}

  /** `generation`: of the agent's EnsureDomain answer (0 when it sends none). */
  mark(id: string, generation = 0): Promise<boolean> {
    return new Promise((done, failed) => {
      this.started.push({ id, generation, done, failed });
      if (!this.flushing && this.started.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.started.length > 0) {
        const batch = this.started;
        this.started = [];
        try {
          // On the pool, outside any transaction: its answer comes once it is committed.
          const { deleting, marked } = await markRunningCounted(
            this.sql,
            batch.map((b) => ({ id: b.id, generation: b.generation })),
          );
          this.marks?.marked(marked);
          const deleted = new Set(deleting);
          for (const b of batch) b.done(deleted.has(b.id));
        } catch (err) {
          for (const b of batch) b.failed(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }
}
