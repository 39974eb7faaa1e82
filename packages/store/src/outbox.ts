import type { Db, Sql } from "./db.js";

// Events are written by the state-changing statements themselves (event-sql.ts).

export interface SequencedEvent {
  seq: number;
  subject: string;
  payload: Record<string, unknown>;
}

const SEQUENCER_LOCK = 7_246_002;

/**
 * Gives committed, unsequenced rows their public sequence numbers, oldest
 * first. Only one sequencer runs at a time (advisory lock), and its numbers
 * become visible at once on commit, so a reader following seq never skips one.
 * Returns how many rows were sequenced.
 */
export async function sequenceEvents(sql: Sql, limit = 1000): Promise<number> {
  return sql.begin(async (tx) => {
    const [lock] = await tx<{ ok: boolean }[]>`SELECT pg_try_advisory_xact_lock(${SEQUENCER_LOCK}) AS ok`;
    if (!lock?.ok) return 0;
    const rows = await tx`
      WITH pending AS (
        SELECT id FROM outbox WHERE seq IS NULL ORDER BY id LIMIT ${limit}
      ), numbered AS (
        SELECT id, nextval('outbox_seq') AS seq FROM (SELECT id FROM pending ORDER BY id) p
      )
      UPDATE outbox o SET seq = n.seq FROM numbered n WHERE o.id = n.id RETURNING o.id`;
    return rows.length;
  });
}

/** Sequenced events after `afterSeq`, oldest first. */
export async function readEvents(db: Db, afterSeq: number, limit = 500, subjectPrefix = ""): Promise<SequencedEvent[]> {
  return db<SequencedEvent[]>`
    SELECT seq, subject, payload FROM outbox
    WHERE seq > ${afterSeq} AND seq IS NOT NULL
      AND (${subjectPrefix} = '' OR starts_with(subject, ${subjectPrefix}))
    ORDER BY seq LIMIT ${limit}`;
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

/** Sequenced events not yet published to NATS (after the published cursor), oldest first. */
export async function unpublishedEvents(db: Db, limit = 500): Promise<PublishableEvent[]> {
  return db<PublishableEvent[]>`
    SELECT seq, subject, (payload || jsonb_build_object('id', seq))::text AS json FROM outbox
    WHERE seq > (SELECT seq FROM outbox_published) ORDER BY seq LIMIT ${limit}`;
}

/**
 * Moves the published cursor to `seq`: every event up to it is in NATS.
 * Only the relay holding the publisher lock calls it, in seq order.
 */
export async function markPublished(db: Db, seq: number): Promise<void> {
  await db`UPDATE outbox_published SET seq = ${seq}`;
}

export async function clusterId(db: Db): Promise<string> {
  const [row] = await db<{ id: string }[]>`SELECT id FROM cluster_identity`;
  return row!.id;
}
