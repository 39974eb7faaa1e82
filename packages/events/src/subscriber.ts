import { connect } from "@nats-io/transport-node";
import { DeliverPolicy, jetstream } from "@nats-io/jetstream";
import { ALL_SUBJECTS, STREAM_NAME } from "./subjects.js";
import { ensureStream } from "./publisher.js";

export interface ReceivedEvent {
  subject: string;
  /** The JSON body: drover.v1.Event in proto JSON form. */
  data: Record<string, unknown>;
  /** Nats-Msg-Id header: "<cluster id>:<seq>". */
  msgId: string;
}

/**
 * Follows the DROVER stream with an ordered consumer from `since` (default:
 * now) and calls onEvent for each message, until stop() is called.
 */
export async function followEvents(
  url: string,
  onEvent: (e: ReceivedEvent) => void,
  options: { subjects?: string; since?: Date } = {},
): Promise<{ stop(): Promise<void> }> {
  const nc = await connect({ servers: url });
  await ensureStream(nc);
  const consumer = await jetstream(nc).consumers.get(STREAM_NAME, {
    filter_subjects: options.subjects ?? ALL_SUBJECTS,
    deliver_policy: DeliverPolicy.StartTime,
    opt_start_time: (options.since ?? new Date()).toISOString(),
  });
  const messages = await consumer.consume();
  const done = (async () => {
    for await (const m of messages) {
      onEvent({ subject: m.subject, data: m.json(), msgId: m.headers?.get("Nats-Msg-Id") ?? "" });
    }
  })();
  return {
    async stop() {
      await messages.close();
      await done.catch(() => {});
      await nc.close();
    },
  };
}
