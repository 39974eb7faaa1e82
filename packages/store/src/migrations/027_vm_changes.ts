// A count of the changes to each node's VMs, for the heartbeat fast path (the scheduler's
// liveness/report-memo.ts): a replica skips a node's reconcile only while the count is what it
// was at its last reconcile, so a change any replica (or an edited row) makes shows at the node's
// next beat on every replica. Every statement that writes vms rows appends one row per node it
// touched (before and after: a VM moved away counts on both) to vm_changes: appends take no row
// lock, so the count adds none to the lock order of claims, liveness and releases. foldVmChanges
// moves the appended rows into node_vm_changes.folded; a node's count is folded plus its rows
// not yet folded, read in one snapshot, so it only grows, in commit order. (Migration 035 counts an
// update only where it changes what the reconcile reads, row by row.)
export const sql027 = /* sql */ `
CREATE TABLE vm_changes (node text NOT NULL);
CREATE INDEX vm_changes_node_idx ON vm_changes (node);
CREATE TABLE node_vm_changes (node text PRIMARY KEY, folded bigint NOT NULL);

CREATE FUNCTION drover_vm_changes_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO vm_changes (node) SELECT DISTINCT node FROM new_rows WHERE node IS NOT NULL;
  RETURN NULL;
END $$;
CREATE FUNCTION drover_vm_changes_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO vm_changes (node)
  SELECT node FROM new_rows WHERE node IS NOT NULL UNION SELECT node FROM old_rows WHERE node IS NOT NULL;
  RETURN NULL;
END $$;
CREATE FUNCTION drover_vm_changes_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO vm_changes (node) SELECT DISTINCT node FROM old_rows WHERE node IS NOT NULL;
  RETURN NULL;
END $$;

CREATE TRIGGER vms_changes_inserted AFTER INSERT ON vms REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION drover_vm_changes_inserted();
CREATE TRIGGER vms_changes_updated AFTER UPDATE ON vms REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION drover_vm_changes_updated();
CREATE TRIGGER vms_changes_deleted AFTER DELETE ON vms REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION drover_vm_changes_deleted();
`;
