// Old events are deleted after the retention period. WatchEvents must tell a
// client that resumes from before the deleted range that it missed events,
// rather than skip them silently; sequence numbers can have gaps (a rolled
// back sequencer), so "deleted up to" is kept, not inferred.
export const sql005 = /* sql */ `
CREATE TABLE outbox_pruned (seq bigint NOT NULL);
INSERT INTO outbox_pruned (seq) VALUES (0);
`;
