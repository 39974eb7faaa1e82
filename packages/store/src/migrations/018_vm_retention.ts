// VM retention (issue 13): DELETED and FAILED VMs are purged after DROVER_VM_RETENTION_MS
// (retention.ts), and the indexes the hot paths read hold no dead rows meanwhile.
// - vms_state_idx (state, due_at) had an entry for every VM ever made; only the work queue reads
//   it (takeDueProvisioning, takeDueDeletions, requeueExpiredLeases), so vms_due_idx keeps its
//   states only.
// - vms_node_idx (node) WHERE claimed served no query (none says `claimed` with a node). The
//   per-node reads (a heartbeat's vanished domains, markVmsLost, the VM counts of ListNodes,
//   GetCapacity and /metrics) name a node or a state that is never DELETED: vms_node_state_idx.
// - vms_dead_idx: what retention walks, oldest change first; a row enters it only when it dies.
// - create_requests: a request goes with its last VM (retention.ts), found through its vm_ids;
//   the foreign key vms.request_id → create_requests had no index on vms, so each deleted request
//   cost a scan of vms for the check. request_id stays as a plain column. Requests that placed
//   nothing have no VM to go with: create_requests_empty_idx finds them by age.
// vms_created_idx and vms_project_created_idx stay whole: ListVms pages through every state
// (DELETED included, until purged), and new rows only ever go on their right edge.
export const sql018 = /* sql */ `
ALTER TABLE vms DROP CONSTRAINT IF EXISTS vms_request_id_fkey;
DROP INDEX vms_state_idx;
DROP INDEX vms_node_idx;
CREATE INDEX vms_due_idx ON vms (state, due_at) WHERE state IN ('PENDING', 'SCHEDULED', 'PROVISIONING', 'DELETING');
CREATE INDEX vms_node_state_idx ON vms (node, state) WHERE state <> 'DELETED';
CREATE INDEX vms_dead_idx ON vms (updated_at) WHERE state IN ('DELETED', 'FAILED');
CREATE INDEX create_requests_empty_idx ON create_requests (created_at) WHERE cardinality(vm_ids) = 0;
`;
