// NATS publishing is in seq order by one relay at a time, so "published up to
// seq N" is one number. It replaces the per-row sent_at, whose update cost a
// row version and an index entry for every event (three per VM created).
export const sql004 = /* sql */ `
CREATE TABLE outbox_published (seq bigint NOT NULL);
INSERT INTO outbox_published (seq)
  SELECT coalesce(
    (SELECT min(seq) - 1 FROM outbox WHERE seq IS NOT NULL AND sent_at IS NULL),
    (SELECT max(seq) FROM outbox),
    0);
DROP INDEX outbox_unsent_idx;
ALTER TABLE outbox DROP COLUMN sent_at;
`;
