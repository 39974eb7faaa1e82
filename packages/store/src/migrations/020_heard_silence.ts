// Liveness counts only the silence the scheduler could have heard (issue 11).
// liveness_window.unheard_ms: the total time no replica was ticking (beyond a
// tick's normal lateness): the scheduler was down, or the database was out of
// reach. node_heartbeats.unheard_ms: that total when the node's last beat was
// recorded. A node's heard silence is the time since its last beat less the
// unheard time since then, so a pause of any length is never counted against
// it, while a slow replica's late ticks cannot postpone DOWN for ever (as
// restarting the whole window for every late tick would).
export const sql020 = /* sql */ `
ALTER TABLE liveness_window ADD COLUMN unheard_ms float8 NOT NULL DEFAULT 0;
ALTER TABLE node_heartbeats ADD COLUMN unheard_ms float8 NOT NULL DEFAULT 0;
`;
