import { connect, createInbox, headers } from "@nats-io/transport-node";
import type { Msg, NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { ALL_SUBJECTS, STREAM_NAME } from "./subjects.js";

export interface EventMessage {
  /** Outbox sequence number; with the cluster id it makes the Nats-Msg-Id, so JetStream drops a re-sent duplicate. */
  seq: number;
  subject: string;
  /** The message body: drover.v1.Event as proto JSON, with its id. */
  json: string;
}

/** A batch waiting for its acks. */
interface PendingBatch {
  left: number;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * One JetStream connection; publish() throws while NATS is unreachable and
 * the caller retries later.
 *
 * Acks come back on one subscription of the publisher's own (like Go's
 * PublishAsync), not as one request each: @nats-io/jetstream's publish()
 * builds an error object, a reply mux entry and a timer per message, which
 * was ~8 % of the scheduler thread at three events per VM.
 */
/** TLS to NATS: the CA that signs its certificate, and a client certificate when it asks for one. */
export interface NatsTls {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
}

export class EventPublisher {
  private readonly batches = new Map<number, PendingBatch>();
  private nextBatch = 0;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly inbox: string,
  ) {
    nc.subscribe(`${inbox}.>`, { callback: (err, msg) => (err ? this.failAll(err) : this.onAck(msg)) });
  }

  /** `tls` (files of the CA, and of a client certificate and key) turns TLS on; so does a tls:// URL. */
  static async connect(url: string, timeoutMs = 2000, tls?: NatsTls): Promise<EventPublisher> {
    // noAsyncTraces: otherwise every request builds Error objects (stack traces) up front, in case it times out.
    const nc = await connect({
      servers: url,
      timeout: timeoutMs,
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1000,
      noAsyncTraces: true,
      ...(tls ? { tls } : {}),
    });
    await ensureStream(nc);
    return new EventPublisher(nc, createInbox());
  }

  get closed(): boolean {
    return this.nc.isClosed();
  }

  /**
   * Publishes in order and waits for all acks. The messages go out back to
   * back on one connection (the stream keeps their order) instead of one
   * round trip each. The message id is "<cluster id>:<seq>", unique across
   * clusters sharing the stream, so a re-sent message is dropped as a
   * duplicate. Rejects if JetStream refuses any message or an ack is missing
   * after timeoutMs; the caller re-sends the batch.
   */
  publish(clusterId: string, messages: EventMessage[], timeoutMs = 5000): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    const id = this.nextBatch++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.batches.delete(id);
        reject(new Error(`JetStream did not ack ${pending.left} of ${messages.length} events within ${timeoutMs} ms`));
      }, timeoutMs);
      const pending: PendingBatch = {
        left: messages.length,
        resolve: () => (clearTimeout(timer), resolve()),
        reject: (err) => (clearTimeout(timer), reject(err)),
      };
      this.batches.set(id, pending);
      try {
        for (const m of messages) {
          const h = headers();
          h.set("Nats-Msg-Id", `${clusterId}:${m.seq}`);
          this.nc.publish(m.subject, m.json, { reply: `${this.inbox}.${id}`, headers: h });
        }
      } catch (err) {
        this.batches.delete(id);
        pending.reject(err as Error);
      }
    });
  }

  /** A PubAck ({stream, seq}) counts towards its batch; anything else (an error, no stream: 503) fails it. */
  private onAck(msg: Msg): void {
    const id = Number(msg.subject.slice(this.inbox.length + 1));
    const batch = this.batches.get(id);
    if (!batch) return; // timed out or failed already
    const problem = ackProblem(msg);
    if (problem) {
      this.batches.delete(id);
      batch.reject(new Error(`JetStream refused an event: ${problem}`));
    } else if (--batch.left === 0) {
      this.batches.delete(id);
      batch.resolve();
    }
  }

  private failAll(err: Error): void {
    for (const b of this.batches.values()) b.reject(err);
    this.batches.clear();
  }

  async close(): Promise<void> {
    await this.nc.close();
    this.failAll(new Error("NATS connection closed"));
  }
}

/** Why a reply is not a PubAck, or undefined if it is one. */
function ackProblem(msg: Msg): string | undefined {
  const status = msg.headers?.code;
  if (status && status >= 300) return `status ${status} ${msg.headers?.description ?? ""}`.trim() + (status === 503 ? " (no stream takes this subject)" : "");
  try {
    const ack = msg.json<{ stream?: string; seq?: number; error?: { code: number; description: string } }>();
    if (ack.error) return `${ack.error.code} ${ack.error.description}`;
    if (!ack.stream || !ack.seq) return `unexpected reply ${msg.string()}`;
    return undefined;
  } catch {
    return `unexpected reply ${msg.string()}`;
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
