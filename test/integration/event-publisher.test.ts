import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventPublisher, followEvents, type ReceivedEvent } from "@drover/events";
import { waitFor } from "../support/wait.js";

const NATS_URL = process.env.DROVER_TEST_NATS_URL ?? "nats://127.0.0.1:4222";

// The real JetStream server: the publisher collects acks on its own subscription,
// so what it reports must match what the stream stored.
describe("EventPublisher against JetStream", () => {
  let publisher: EventPublisher;
  const cluster = randomUUID();
  // A subject of this test's own inside the DROVER stream (drover.>).
  const subject = `drover.test.${cluster.slice(0, 8)}`;
  const messages = Array.from({ length: 300 }, (_, i) => ({ seq: i + 1, subject, json: JSON.stringify({ n: i + 1 }) }));

  beforeAll(async () => {
    publisher = await EventPublisher.connect(NATS_URL);
  });
  afterAll(async () => {
    if (!publisher.closed) await publisher.close();
  });

  it("stores a batch in order once, and drops a re-sent batch as duplicates", async () => {
    const received: ReceivedEvent[] = [];
    const follower = await followEvents(NATS_URL, (e) => received.push(e), { subjects: subject, since: new Date(Date.now() - 1000) });
    try {
      await publisher.publish(cluster, messages);
      await publisher.publish(cluster, messages.slice(100, 200)); // a retry after a lost ack
      await waitFor("300 stored events", async () => (received.length >= 300 ? true : undefined));
      await new Promise((r) => setTimeout(r, 300)); // would a duplicate arrive late?
      expect(received.map((e) => e.data.n)).toEqual(messages.map((m) => JSON.parse(m.json).n));
      expect(received.map((e) => e.msgId)).toEqual(messages.map((m) => `${cluster}:${m.seq}`));
    } finally {
      await follower.stop();
    }
  });

  it("concurrent batches each resolve with their own acks", async () => {
    const other = `drover.test.${randomUUID().slice(0, 8)}`;
    const batch = (from: number) => Array.from({ length: 50 }, (_, i) => ({ seq: from + i, subject: other, json: "{}" }));
    await expect(Promise.all([publisher.publish(cluster, batch(1000)), publisher.publish(cluster, batch(2000))])).resolves.toBeDefined();
  });

  it("rejects a batch whose subject no stream takes, saying so", async () => {
    await expect(publisher.publish(cluster, [{ seq: 1, subject: `nostream.${cluster}`, json: "{}" }], 3000)).rejects.toThrow(/no stream takes this subject/);
  });

  it("rejects once closed, so the relay keeps the events for later", async () => {
    await publisher.close();
    await expect(publisher.publish(cluster, messages.slice(0, 1))).rejects.toThrow();
  });
});
