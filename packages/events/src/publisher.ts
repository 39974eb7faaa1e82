import { connect } from "@nats-io/transport-node";
import type { NatsConnection } from "@nats-io/transport-node";
import { jetstream, jetstreamManager, type JetStreamClient } from "@nats-io/jetstream";
import { ALL_SUBJECTS, STREAM_NAME } from "./subjects.js";

export interface EventMessage {
  /** Outbox sequence number; with the cluster id it makes the Nats-Msg-Id, so JetStream drops a re-sent duplicate. */
  seq: number;
  subject: string;
  /** The message body: drover.v1.Event as proto JSON, with its id. */
  json: string;
}

/** One JetStream connection; publish() throws while NATS is unreachable and the caller retries later. */
export class EventPublisher {
  private constructor(
    private readonly nc: NatsConnection,
    private readonly js: JetStreamClient,
  ) {}

  static async connect(url: string, timeoutMs = 2000): Promise<EventPublisher> {
    // noAsyncTraces: otherwise every publish builds two Error objects (stack traces) up front, in
    // case it times out; that was ~6 % of the scheduler thread under load.
    const nc = await connect({ servers: url, timeout: timeoutMs, maxReconnectAttempts: -1, reconnectTimeWait: 1000, noAsyncTraces: true });
    await ensureStream(nc);
    return new EventPublisher(nc, jetstream(nc));
  }

  get closed(): boolean {
    return this.nc.isClosed();
  }

  /**
   * Publishes in order and waits for all acks. The messages go out back to
   * back on one connection (the stream keeps their order) instead of one
   * round trip each. The message id is "<cluster id>:<seq>", unique across
   * clusters sharing the stream, so a re-sent message is dropped as a duplicate.
   */
  async publish(clusterId: string, messages: EventMessage[], timeoutMs = 5000): Promise<void> {
    await Promise.all(
      messages.map((m) =>
        this.js.publish(m.subject, m.json, {
          msgID: `${clusterId}:${m.seq}`,
          timeout: timeoutMs,
        }),
      ),
    );
  }

  async close(): Promise<void> {
    await this.nc.close();
  }
}

/** Creates the stream if it is missing; keeps events a week (an operator can change limits with nats CLI). */
export async function ensureStream(nc: NatsConnection): Promise<void> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(STREAM_NAME);
  } catch {
    await jsm.streams.add({
      name: STREAM_NAME,
      subjects: [ALL_SUBJECTS],
      max_age: 7 * 24 * 3600 * 1_000_000_000,
      duplicate_window: 10 * 60 * 1_000_000_000,
    });
  }
}
