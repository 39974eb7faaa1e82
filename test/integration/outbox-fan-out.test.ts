import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventPublisher, followEvents, type ReceivedEvent } from "@drover/events";
import {
  clusterId,
  commitPlacements,
  insertProject,
  markPublished,
  readEvents,
  sequenceEvents,
  tryLockPublisher,
  unpublishedEvents,
  upsertNode,
  type Sql,
} from "@drover/store";
import { EXACT_CAPACITY, openTestDatabase, outboxEvents, placedRequest, together } from "@drover/store/testing";
import { OutboxRelay } from "../../packages/scheduler/src/relay/relay.js";
import { createMetrics } from "../../packages/scheduler/src/metrics.js";
import { privateNats } from "../faults/services.js";
import { waitFor } from "../support/wait.js";

const NODES = ["fa", "fb", "fc"];

/** A bulk of `n` VMs of `project`, spread over NODES, as the create path hands it to commitPlacements. */
function bulk(n: number, project: string) {
  return placedRequest(Array.from({ length: n }, (_, i) => NODES[i % NODES.length]!), 1, { name: "fan", project });
}

/**
 * Each VM's event as the outbox held it before migration 024 (one row per VM, built by the
 * statement from the row it inserted; now() of that statement is the row's created_at).
 */
async function eventsAsBefore(sql: Sql): Promise<Map<string, { subject: string; json: Record<string, unknown> }>> {
  const rows = await sql<{ id: string; subject: string; payload: Record<string, unknown> }[]>`
    SELECT v.id::text AS id, 'drover.vm.' || lower(v.state) AS subject,
      jsonb_build_object(
        'subject', 'drover.vm.' || lower(v.state),
        'type', 'vm.' || lower(v.state),
        'vmId', v.id,
        'node', coalesce(v.node, ''),
        'vmState', 'VM_STATE_' || v.state,
        'reason', v.reason,
        'project', v.project,
        'time', to_jsonb(v.created_at)) AS payload
    FROM vms v`;
  return new Map(rows.map((r) => [r.id, { subject: r.subject, json: r.payload }]));
}

// One CreateVms of many VMs writes one outbox row per project and 500 VMs (migration 024); readers and the
// relay fan it out into one event per VM, the same subject and body as when each VM had a row.
describe("outbox fan-out of a bulk create", () => {
  let db: Awaited<ReturnType<typeof openTestDatabase>>;
  let sql: Sql;
  let nats: Awaited<ReturnType<typeof privateNats>>;
  const total = 1300 + 400;
  let unsequenced: Awaited<ReturnType<typeof outboxEvents>>;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    nats = await privateNats();
    for (const name of NODES) await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 4096, memoryMib: 1 << 20, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    await insertProject(sql, "other", { vcpus: null, memoryMib: null, diskGib: null, vms: null });
    // Two requests of two projects in one statement, as the batcher commits them.
    const a = bulk(1300, "default");
    const b = bulk(400, "other");
    await commitPlacements(sql, together([a, b]));
    unsequenced = await outboxEvents(sql);
    while ((await sequenceEvents(sql)) > 0);
  }, 60_000);
  afterAll(async () => {
    await nats?.stop();
    await db?.close();
  });

  it("stores a row per project and 500 VMs, and sequences one event per VM, with no gaps", async () => {
    const [rows] = await sql<{ n: number; most: number }[]>`
      SELECT count(*)::int AS n, max(cardinality(vm_ids))::int AS most FROM outbox WHERE subject = 'drover.vm.scheduled'`;
    expect(rows).toEqual({ n: 3 + 1, most: 500 }); // 1,300 VMs of one project, 400 of the other
    // The nodes' registrations (drover.node.ready) came first.
    const seqs = (await outboxEvents(sql)).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: NODES.length + total }, (_, i) => i + 1));
  });

  it("shows the tests (outboxEvents) the events not sequenced yet, as they are once sequenced", async () => {
    expect(unsequenced.every((e) => e.seq === null)).toBe(true);
    const sequenced = await outboxEvents(sql);
    expect(unsequenced).toEqual(sequenced.map((e) => ({ ...e, seq: null })));
    expect(new Set(unsequenced.map((e) => e.payload.vmId)).size).toBe(total + 1); // the nodes' events have none
  });

  it("serves every VM's event as before, from any cursor, also one inside a row", async () => {
    const before = await eventsAsBefore(sql);
    const all = await readEvents(sql, NODES.length, 10_000);
    expect(all).toHaveLength(total);
    for (const e of all) {
      const want = before.get(e.payload.vmId as string);
      expect(e.subject).toBe(want?.subject);
      expect(e.payload).toEqual(want?.json);
    }
    expect(new Set(all.map((e) => e.payload.vmId)).size).toBe(total);
    const n = NODES.length;
    for (const after of [n, n + 1, n + 499, n + 1299, n + 1300, n + 1301, n + total - 1, n + total]) {
      const page = await readEvents(sql, after, 500);
      expect(page.map((e) => e.seq)).toEqual(all.filter((e) => e.seq > after).slice(0, 500).map((e) => e.seq));
      expect(page).toEqual(all.filter((e) => e.seq > after).slice(0, 500));
    }
    expect((await readEvents(sql, 0, 10, "drover.node.")).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await readEvents(sql, 0, 10, "drover.vm.")).map((e) => e.seq)).toEqual(all.slice(0, 10).map((e) => e.seq));
  });

  it("hands the relay the same JSON text, byte for byte, as a row per VM gave", async () => {
    const texts = (await unpublishedEvents(sql, 10_000)).filter((t) => t.subject.startsWith("drover.vm."));
    expect(texts).toHaveLength(total);
    const ids = texts.map((t) => (JSON.parse(t.json) as { vmId: string }).vmId);
    const want = await sql<{ json: string }[]>`
      SELECT (jsonb_build_object(
          'subject', 'drover.vm.' || lower(v.state), 'type', 'vm.' || lower(v.state), 'vmId', v.id,
          'node', coalesce(v.node, ''), 'vmState', 'VM_STATE_' || v.state, 'reason', v.reason,
          'project', v.project, 'time', to_jsonb(v.created_at)) || jsonb_build_object('id', t.seq))::text AS json
      FROM unnest(${ids}::uuid[], ${texts.map((t) => t.seq)}::int8[]) WITH ORDINALITY AS t(id, seq, k)
      JOIN vms v ON v.id = t.id ORDER BY t.k`;
    expect(texts.map((t) => t.json)).toEqual(want.map((w) => w.json));
  });

  it("publishes each event once, the same bodies, after a relay died mid-way through a row", async () => {
    const all = NODES.length + total;
    const received: ReceivedEvent[] = [];
    const follower = await waitFor("NATS up", async () => followEvents(nats.url, (e) => received.push(e), { since: new Date(0) }), 10_000, 200);
    try {
      const cluster = await clusterId(sql);
      const publisher = await EventPublisher.connect(nats.url);
      // A relay that published 700 events (into the first VM row) and moved the cursor, then died
      // before committing: its cursor is lost, its messages are in the stream.
      await sql
        .begin(async (tx) => {
          expect(await tryLockPublisher(tx)).toBe(true);
          for (let i = 0; i < 2; i++) {
            const batch = await unpublishedEvents(tx, 350);
            await publisher.publish(cluster, batch);
            await markPublished(tx, batch.at(-1)!.seq);
          }
          throw new Error("relay died");
        })
        .catch((err: Error) => expect(err.message).toBe("relay died"));
      // One that published 1,000 events and committed: its cursor is inside the first VM row.
      await sql.begin(async (tx) => {
        expect(await tryLockPublisher(tx)).toBe(true);
        for (let i = 0; i < 2; i++) {
          const batch = await unpublishedEvents(tx, 500);
          await publisher.publish(cluster, batch);
          await markPublished(tx, batch.at(-1)!.seq);
        }
      });
      await publisher.close();
      expect((await unpublishedEvents(sql, 1))[0]?.seq).toBe(1001);
      // The next relay takes over from there.
      const relay = new OutboxRelay(sql, nats.url, createMetrics(sql), () => {});
      try {
        await relay.tick();
      } finally {
        await relay.close();
      }
      await waitFor(`${all} events on JetStream`, async () => (received.length >= all ? true : undefined), 30_000, 100);
      await new Promise((r) => setTimeout(r, 500)); // would a duplicate arrive late?
    } finally {
      await follower.stop();
    }
    expect(received).toHaveLength(all);
    const before = await eventsAsBefore(sql);
    const seqs = received.map((e) => e.data.id as number);
    expect(seqs).toEqual(Array.from({ length: all }, (_, i) => i + 1));
    const vmEvents = received.filter((e) => e.subject.startsWith("drover.vm."));
    expect(vmEvents).toHaveLength(total);
    for (const e of vmEvents) {
      const { id, ...body } = e.data;
      const want = before.get(body.vmId as string);
      expect(e.subject).toBe(want?.subject);
      expect(body).toEqual(want?.json);
      expect(e.msgId).toBe(`${await clusterId(sql)}:${id as number}`);
    }
    expect(new Set(vmEvents.map((e) => e.data.vmId)).size).toBe(total);
  }, 120_000);

  it("reads past a run of burned seqs (an aborted sequencer's), with or without a subject filter", async () => {
    const last = NODES.length + total;
    await sql`SELECT setval('outbox_seq', nextval('outbox_seq') + 5000)`;
    await upsertNode(sql, { name: "late", address: "127.0.0.1:1", vcpus: 1, memoryMib: 1, diskGib: 1, labels: {} }, EXACT_CAPACITY);
    while ((await sequenceEvents(sql)) > 0);
    const next = await readEvents(sql, last, 500);
    expect(next.map((e) => [e.subject, e.payload.node])).toEqual([["drover.node.ready", "late"]]);
    expect(next[0]!.seq).toBeGreaterThan(last + 5000);
    expect((await readEvents(sql, 3, 500, "drover.node.")).map((e) => e.payload.node)).toEqual(["late"]);
    expect((await unpublishedEvents(sql, 500)).map((e) => e.seq)).toEqual([next[0]!.seq]);
  });
});
