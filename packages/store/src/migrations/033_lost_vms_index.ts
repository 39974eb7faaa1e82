// Each heartbeat's record asks whether its node has LOST VMs (nodes.ts recordHeartbeats): while it
// has, its beats reconcile past the report memo and the reconcile gate's hold, so a node that is
// back reports them RUNNING again at its next beat. LOST rows are few (none on a healthy fleet),
// so this index is near empty and the question costs one page per node.
export const sql033 = /* sql */ `
CREATE INDEX vms_lost_idx ON vms (node) WHERE state = 'LOST';
`;
