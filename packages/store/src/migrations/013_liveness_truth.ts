// State that tells the truth under faults.
// - DEGRADED: the node heartbeats but its agent cannot reach libvirt; it takes no new VMs and its VMs
//   are not LOST. Like DOWN, it keeps the operator's state in state_before_down; `reason` says why.
// - node_heartbeats.boot_id/seq: the last beat applied per node, so a late beat (an older seq of
//   the same boot, or a beat of an earlier boot) cannot undo what a newer one reported.
// - vms.report_generation: the agent's generation of the last report or operation applied to the
//   VM; a domain report taken before it is ignored.
// - vms.wait_since: since when a VM waits to be dispatched because its node is DOWN or DEGRADED.
export const sql013 = /* sql */ `
ALTER TABLE nodes DROP CONSTRAINT nodes_state_check;
ALTER TABLE nodes ADD CONSTRAINT nodes_state_check
  CHECK (state IN ('READY', 'CORDONED', 'DRAINING', 'DOWN', 'DEGRADED'));
ALTER TABLE nodes ADD COLUMN reason text NOT NULL DEFAULT '';
ALTER TABLE node_heartbeats ADD COLUMN boot_id text NOT NULL DEFAULT '';
ALTER TABLE node_heartbeats ADD COLUMN seq bigint NOT NULL DEFAULT 0;
ALTER TABLE vms ADD COLUMN report_generation bigint NOT NULL DEFAULT 0;
ALTER TABLE vms ADD COLUMN wait_since timestamptz;
`;
