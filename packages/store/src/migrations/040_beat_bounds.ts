// beat_bounds: the longest silence after a beat that each scheduler replica allows a correct agent,
// refreshed by its liveness tick: its configured heartbeat timeout, or the timeout of twice the
// beat-rate floor it tells its agents (liveness/beat-rate.ts) when that is longer. A node's recorded
// timeout is scaled from the interval its agent says it beats at (migration 037), so an agent that
// said "hourly" could postpone its own DOWN by five hours; liveness bounds each node's timeout by
// the longest bound a live replica wrote. Each replica writes its own (from its own settings and
// floor): a capped replica's agents beat slower than an uncapped one's settings would allow.
export const sql040 = /* sql */ `
CREATE TABLE beat_bounds (
  replica    uuid PRIMARY KEY,
  timeout_ms integer NOT NULL CHECK (timeout_ms > 0),
  told_at    timestamptz NOT NULL DEFAULT now()
);
`;
