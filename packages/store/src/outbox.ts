import type { Db, Sql } from "./db.js";
import { tryLockSequencer } from "./locks.js";
import { eventsThroughRow, rowEvents } from "./outbox-fan-out.js";
import { transaction } from "./transaction.js";

// Events are written by the state-changing statements themselves (event-sql.ts).

export interface SequencedEvent {
  seq: number;
  subject: string;
  payload: Record<string, unknown>;
}

/**
 * Gives committed, unsequenced rows their public sequence numbers, oldest
 * first: a fan-out row (migration 024) as many as it has events, its seq
 * column the last of them. Only one sequencer runs at a time (advisory lock),
 * so it alone moves outbox_seq and may take a run of numbers with one setval;
 * its numbers become visible at once on commit, so a reader following seq
 * never skips one. Returns how many rows were sequenced.
 */
export async function sequenceEvents(sql: Sql, limit = 1000): Promise<number> {
  return transaction(sql, async (tx) => {
    if (!(await tryLockSequencer(tx))) return 0;
    const rows = await tx`
      WITH pending AS (
        SELECT id, ${eventsThroughRow(tx)} AS upto
        FROM (SELECT id, vm_ids FROM outbox WHERE seq IS NULL ORDER BY id LIMIT ${limit}) p
      ), run AS (
        -- The seq before this run's first. Evaluated once (volatile), and not at all when nothing is pending.
        SELECT setval('outbox_seq', nextval('outbox_seq') + t.n - 1) - t.n AS before
        FROM (SELECT max(upto) AS n FROM pending) t WHERE t.n IS NOT NULL
      )
      UPDATE outbox o SET seq = run.before + p.upto FROM pending p, run WHERE o.id = p.id RETURNING o.id`;
    return rows.length;
  });
}

/**
 * Sequenced events after `afterSeq`, oldest first, at most `limit`. A row's seq is the last of its
 * events, so the rows that can hold the page are those with a seq in (afterSeq, afterSeq + limit]
 * (at most `limit` events among them) and the first row after those (it may start inside the
 * range; it also keeps the page from coming back empty across a gap of burned seqs). Bounding the
 * rows by seq, not by a LIMIT of rows, keeps a page at ~limit + 500 events built whatever plan
 * Postgres picks: with `LIMIT limit` rows of 500 events it expanded all of them once the
 * statistics moved it off an incremental sort (300 ms of Postgres CPU per 10,000 events).
 * A page may hold fewer than `limit` events when seqs were burned (an aborted sequencer); never
 * none while events follow.
 */
function eventsAfter(db: Db, afterSeq: number, limit: number, subjectPrefix: string) {
  const matches = db`seq IS NOT NULL AND (${subjectPrefix} = '' OR starts_with(subject, ${subjectPrefix}))`;
  return db`
    SELECT e.seq, o.subject, e.payload
    FROM ((SELECT seq, subject, payload, vm_ids, nodes FROM outbox
           WHERE seq > ${afterSeq} AND seq <= ${afterSeq + limit} AND ${matches})
          UNION ALL
          (SELECT seq, subject, payload, vm_ids, nodes FROM outbox
           WHERE seq > ${afterSeq + limit} AND ${matches} ORDER BY seq LIMIT 1)) o
    CROSS JOIN LATERAL (${rowEvents(db, afterSeq)}) e
    ORDER BY e.seq LIMIT ${limit}`;
}

/** Sequenced events after `afterSeq`, oldest first (fan-out rows fanned out, from the cursor on). */
export async function readEvents(db: Db, afterSeq: number, limit = 500, subjectPrefix = ""): Promise<SequencedEvent[]> {
  return db<SequencedEvent[]>`SELECT seq, subject, payload FROM (${eventsAfter(db, afterSeq, limit, subjectPrefix)}) e ORDER BY seq`;
}

export async function latestSeq(db: Db): Promise<number> {
  const [row] = await db<{ seq: number | null }[]>`SELECT max(seq) AS seq FROM outbox`;
  return row?.seq ?? 0;
}

/** A sequenced event as the JSON text to publish (the payload with its id), so nothing is parsed and re-serialized. */
export interface PublishableEvent {
  seq: number;
  subject: string;
  json: string;
}

/**
 * Sequenced events not yet published to NATS (after the published cursor), oldest first. The
 * cursor may stop inside a fan-out row (a relay that died mid-way): its events after the cursor
 * follow, the same ones with the same seqs as the first time.
 */
export async function unpublishedEvents(db: Db, limit = 500): Promise<PublishableEvent[]> {
  const [cursor] = await db<{ seq: number }[]>`SELECT seq FROM outbox_published`;
  return db<PublishableEvent[]>`
    SELECT seq, subject, (payload || jsonb_build_object('id', seq))::text AS json
    FROM (${eventsAfter(db, cursor!.seq, limit, "")}) e ORDER BY seq`;
}

/**
 * Moves the published cursor to `seq`: every event up to it is in NATS.
 * Only the relay holding the publisher lock calls it, in seq order.
 */
export async function markPublished(db: Db, seq: number): Promise<void> {
  await db`UPDATE outbox_published SET seq = ${seq}`;
}

/**
 * Deletes up to `limit` of the oldest sequenced events, only the run of them
 * (in seq order) older than `olderThanHours`, and only ones already published
 * to NATS when `publishedOnly`. What is left is always a suffix of the event
 * sequence; the highest seq deleted is recorded, so WatchEvents can refuse to
 * resume from before it. Returns how many were deleted.
 */
export async function pruneEvents(db: Db, olderThanHours: number, publishedOnly: boolean, limit = 10_000): Promise<number> {
  const [row] = await db<{ n: number }[]>`
    WITH first_kept AS (
      -- Walks the seq index from the oldest event and stops at the first young one.
      SELECT seq FROM outbox WHERE seq IS NOT NULL AND created_at >= now() - make_interval(secs => ${olderThanHours * 3600})
      ORDER BY seq LIMIT 1
    ), gone AS (
      DELETE FROM outbox WHERE id IN (
        SELECT id FROM outbox
        WHERE seq < coalesce((SELECT seq FROM first_kept), (SELECT max(seq) + 1 FROM outbox))
          AND (NOT ${publishedOnly} OR seq <= (SELECT seq FROM outbox_published))
        ORDER BY seq LIMIT ${limit})
      RETURNING seq
    ), mark AS (
      UPDATE outbox_pruned SET seq = (SELECT max(seq) FROM gone) WHERE (SELECT max(seq) FROM gone) > outbox_pruned.seq
    )
    SELECT count(*)::int AS n FROM gone`;
  return row!.n;
}

/** The highest event seq deleted by retention (0 if none): events at or below it are gone. */
export async function prunedThrough(db: Db): Promise<number> {
  const [row] = await db<{ seq: number }[]>`SELECT seq FROM outbox_pruned`;
  return row?.seq ?? 0;
}

export async function clusterId(db: Db): Promise<string> {
  const [row] = await db<{ id: string }[]>`SELECT id FROM cluster_identity`;
  return row!.id;
}
