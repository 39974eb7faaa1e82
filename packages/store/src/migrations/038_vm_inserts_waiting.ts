// A VM inserted waiting for its domain (PENDING, SCHEDULED, PROVISIONING: every create inserts
// SCHEDULED) no longer counts as a change to its node's VMs (migration 027's count). Its node's
// reconcile answers for it as for no row at all: no domain has its id (a new one, vm-id.ts), so no
// state moves, no NIC is recorded, nothing is a stray, and none of the three is ever vanished
// (migration 035 holds the three alike, reconcile-classes.test.ts). Counted, each create made its
// node's next beat reconcile in full on every replica, even when the replica that marks it RUNNING
// knows that mark is all that changed (the heartbeat fast path after a replica's own RUNNING mark,
// the scheduler's liveness/report-memo.ts). Its RUNNING mark (or any other move out of the three)
// counts, as before; so do inserts in any other state, and deletes.
export const sql038 = /* sql */ `
CREATE OR REPLACE FUNCTION drover_vm_changes_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO vm_changes (node)
  SELECT DISTINCT node FROM new_rows WHERE node IS NOT NULL AND state NOT IN ('PENDING', 'SCHEDULED', 'PROVISIONING');
  RETURN NULL;
END $$;
`;
