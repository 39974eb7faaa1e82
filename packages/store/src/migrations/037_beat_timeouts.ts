// node_heartbeats.timeout_ms: the silence after the node's last beat that makes it DOWN, as the
// replica that recorded the beat judged it from the interval the agent said it beats at (the
// beat-rate cap slows agents down as the cluster grows: liveness/beat-rate.ts). Kept with the
// beat, so every replica judges the node by the same number; 0 (rows from before, a registration):
// the configured DROVER_HEARTBEAT_TIMEOUT_MS.
export const sql037 = /* sql */ `
ALTER TABLE node_heartbeats ADD COLUMN timeout_ms integer NOT NULL DEFAULT 0 CHECK (timeout_ms >= 0);
`;
