// Two guards for outages (issue 11).
// drover_deadline_exceeded: a create's commit statement checks, as its last
// step, that its client's deadline has not passed; this error aborts it whole
// (as drover_claim_conflict does), so a request the client already gave up on
// never lands. SQLSTATE DR002.
// liveness_window: when the scheduler has been able to record heartbeats
// since. Any replica's liveness tick moves last_tick_at; a gap (an outage, or
// no replica running) restarts the window, and no node is judged silent
// until the window is a heartbeat timeout old. One row, so replicas share it.
export const sql014 = /* sql */ `
CREATE FUNCTION drover_deadline_exceeded(late_ms float8) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION 'deadline exceeded % ms before commit', round(late_ms::numeric, 1)
    USING ERRCODE = 'DR002';
END $$;

CREATE TABLE liveness_window (
  id            boolean PRIMARY KEY DEFAULT true CHECK (id),
  started_at    timestamptz NOT NULL,
  last_tick_at  timestamptz NOT NULL
);
-- '-infinity': until a tick runs, silence is judged as before.
INSERT INTO liveness_window (started_at, last_tick_at) VALUES ('-infinity', '-infinity');
`;
