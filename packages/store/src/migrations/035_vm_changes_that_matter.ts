// The VM change count (migration 027) counts what a heartbeat's reconcile reads, not every write.
// 027's UPDATE trigger ran once per statement that updated vms: one whose WHERE matched no row
// (the liveness loop's timers, several a second), a deletion's lease (due_at, lease_until) and a
// dispatch lease (SCHEDULED to PROVISIONING) all ran it and, but for the first, appended a row per
// node, so every replica reconciled the node's next beat for nothing. A statement trigger cannot
// name its columns (Postgres refuses transition tables on a column list), so this one is per row,
// as 034's vms_refs_updated is: it runs only for a row whose node moved or whose columns the
// reconcile (store reconcile-needs.ts and the statements it stands for) reads changed value:
// - state, except among PENDING, SCHEDULED and PROVISIONING, which every part of the reconcile
//   treats alike (no transition starts there, none is vanished or a stray; reconcile-classes.test.ts
//   holds the reconcile to that);
// - report_generation, reason (a vanished domain's), interfaces, spec (the restart policy),
//   crash_count and crashes_since (restarts left).
// updated_at is left out: only a vanished domain's grace reads it, and a node with one in its grace
// is never skipped. Inserts and deletes count as before (one row per node a statement touched).
export const sql035 = /* sql */ `
DROP TRIGGER vms_changes_updated ON vms;
DROP FUNCTION drover_vm_changes_updated();

CREATE FUNCTION drover_vm_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.node IS NOT NULL THEN
    INSERT INTO vm_changes (node) VALUES (NEW.node);
  END IF;
  IF OLD.node IS NOT NULL AND OLD.node IS DISTINCT FROM NEW.node THEN
    INSERT INTO vm_changes (node) VALUES (OLD.node);
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER vms_changes_updated
  AFTER UPDATE OF node, state, report_generation, reason, interfaces, spec, crash_count, crashes_since ON vms
  FOR EACH ROW WHEN (
    OLD.node IS DISTINCT FROM NEW.node
    OR (OLD.state IS DISTINCT FROM NEW.state
      AND NOT (OLD.state IN ('PENDING', 'SCHEDULED', 'PROVISIONING') AND NEW.state IN ('PENDING', 'SCHEDULED', 'PROVISIONING')))
    OR OLD.report_generation IS DISTINCT FROM NEW.report_generation
    OR OLD.reason IS DISTINCT FROM NEW.reason
    OR OLD.interfaces IS DISTINCT FROM NEW.interfaces
    OR OLD.spec IS DISTINCT FROM NEW.spec
    OR OLD.crash_count IS DISTINCT FROM NEW.crash_count
    OR OLD.crashes_since IS DISTINCT FROM NEW.crashes_since)
  EXECUTE FUNCTION drover_vm_row_changed();
`;
