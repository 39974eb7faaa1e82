import { EventPublisher, type NatsTls } from "@drover/events";
import { clusterId, markPublished, pruneEvents, sequenceEvents, tryLockPublisher, unpublishedEvents, type Sql, transaction } from "@drover/store";
import type { SchedulerMetrics } from "../metrics.js";

/** Retention runs at most once a minute per replica (more often only for a retention under 10 minutes). */
const PRUNE_EVERY_MS = 60_000;
/** Statements of 10,000 deletions per run, so a long backlog does not hold up publishing. */
const PRUNE_CHUNKS = 10;

/**
 * Moves outbox events to NATS JetStream. Sequencing runs with or without
 * NATS (WatchEvents reads sequenced rows); publishing waits for NATS and
 * resumes where it stopped, so an outage delays events but never loses them.
 */
export class OutboxRelay {
  private publisher: EventPublisher | undefined;
  private connecting: Promise<void> | undefined;
  private nextConnectAt = 0;
  private cluster: string | undefined;
  /** Logged once per outage, not every retry. */
  private warned = false;
  private prunedAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly sql: Sql,
    private readonly natsUrl: string,
    private readonly metrics: SchedulerMetrics,
    private readonly log: (m: string) => void,
    /** How long (ms) events are kept after publishing; 0 keeps them forever. */
    private readonly retentionMs = 0,
    /** TLS to NATS, when configured (DROVER_NATS_TLS_*). */
    private readonly natsTls?: NatsTls,
  ) {}

  async tick(): Promise<void> {
    while ((await sequenceEvents(this.sql)) > 0);
    await this.prune();
    if (!this.natsUrl) return;
    const publisher = await this.connected();
    if (!publisher) return;
    const cluster = (this.cluster ??= await clusterId(this.sql));
    // One replica publishes at a time, in sequence order.
    await transaction(this.sql, async (tx) => {
      if (!(await tryLockPublisher(tx))) return;
      for (;;) {
        const batch = await unpublishedEvents(tx, 500);
        if (batch.length === 0) return;
        await publisher.publish(cluster, batch);
        await markPublished(tx, batch.at(-1)!.seq);
        this.metrics.eventsPublished.inc(batch.length);
      }
    });
  }

  /** Deletes events past retention, never ones NATS has not got yet. */
  private async prune(): Promise<void> {
    const every = Math.min(PRUNE_EVERY_MS, this.retentionMs / 10);
    if (this.retentionMs <= 0 || performance.now() - this.prunedAt < every) return;
    this.prunedAt = performance.now();
    let deleted = 0;
    for (let i = 0; i < PRUNE_CHUNKS; i++) {
      const n = await pruneEvents(this.sql, this.retentionMs / 3_600_000, this.natsUrl !== "");
      if (n === 0) break;
      deleted += n;
    }
    if (deleted > 0) this.log(`events: deleted ${deleted} older than ${this.retentionMs} ms`);
  }

  private async connected(): Promise<EventPublisher | undefined> {
    if (this.publisher && !this.publisher.closed) return this.publisher;
    if (Date.now() < this.nextConnectAt) return undefined;
    this.connecting ??= EventPublisher.connect(this.natsUrl, undefined, this.natsTls)
      .then((p) => {
        this.publisher = p;
        this.warned = false;
        this.log(`events: connected to NATS at ${this.natsUrl}`);
      })
      .catch((err) => {
        this.nextConnectAt = Date.now() + 5000;
        if (this.warned) return;
        this.warned = true;
        this.log(`events: NATS at ${this.natsUrl} unreachable (${(err as Error).message}); events wait in the outbox`);
      })
      .finally(() => (this.connecting = undefined));
    await this.connecting;
    return this.publisher;
  }

  async close(): Promise<void> {
    await this.publisher?.close();
  }
}
