// Bulk creates without per-VM work the statement does not need (issue 13: 10,000 VMs per call).
//
// - vms.node and vms.project lose their foreign keys. Each key was checked once per inserted row
//   (an SPI query and a KEY SHARE lock each: ~40 ms per 10,000 VMs apiece), for the ~1,000 nodes
//   and one project that the claim statement has already locked and checked. The same guarantee
//   now costs one query per statement:
//   - drover_vms_refs_inserted: after an INSERT into vms, one anti-join of the new rows against
//     nodes and projects, taking the KEY SHARE locks the foreign keys took, once per distinct
//     node and project (so a concurrent DELETE of the node waits for this transaction, or this
//     insert fails after it).
//   - drover_vms_refs_updated: a row that changes its node or project is checked as before.
//   - drover_refused_if_referenced: deleting (or renaming) a node or a project still referenced by
//     a VM row fails with 23503, as the foreign keys' NO ACTION did. TRUNCATE ... CASCADE of nodes
//     or projects no longer empties vms: name vms in the TRUNCATE.
// - outbox.vm_ids/nodes: one outbox row per created batch (per state, reason and project, of up to
//   500 VMs: event-sql.ts) instead of one per VM. Its payload is what every VM's event shares; each event is the payload with the
//   VM's vmId and node added (jsonb orders keys itself, so the text is the same as before). The
//   sequencer gives a row as many seqs as it has events, and its seq column holds the last of them,
//   so every comparison of seq with a cursor (published, pruned, a WatchEvents resume) still means
//   "all of this row's events are at or before it". drover_outbox_events fans a row out from a
//   cursor on, at most max_events of it (tests and small reads; the relay and WatchEvents read
//   through outbox.ts's eventsAfter, which reads each array once). Dropped by migration 030.
export const sql024 = /* sql */ `
ALTER TABLE vms DROP CONSTRAINT vms_node_fkey;
ALTER TABLE vms DROP CONSTRAINT vms_project_fkey;

CREATE FUNCTION drover_vms_refs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE missing text;
BEGIN
  SELECT min(r.node) INTO missing
  FROM (SELECT DISTINCT node FROM new_vms WHERE node IS NOT NULL) r
  LEFT JOIN (SELECT name FROM nodes WHERE name IN (SELECT node FROM new_vms) FOR KEY SHARE) n ON n.name = r.node
  WHERE n.name IS NULL;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'insert into vms: node % does not exist', missing USING ERRCODE = '23503';
  END IF;
  SELECT min(r.project) INTO missing
  FROM (SELECT DISTINCT project FROM new_vms) r
  LEFT JOIN (SELECT name FROM projects WHERE name IN (SELECT project FROM new_vms) FOR KEY SHARE) p ON p.name = r.project
  WHERE p.name IS NULL;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'insert into vms: project % does not exist', missing USING ERRCODE = '23503';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER vms_refs_inserted AFTER INSERT ON vms
  REFERENCING NEW TABLE AS new_vms FOR EACH STATEMENT EXECUTE FUNCTION drover_vms_refs_inserted();

CREATE FUNCTION drover_vms_refs_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.node IS NOT NULL AND NOT EXISTS (SELECT 1 FROM nodes WHERE name = NEW.node FOR KEY SHARE) THEN
    RAISE EXCEPTION 'update of vms: node % does not exist', NEW.node USING ERRCODE = '23503';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM projects WHERE name = NEW.project FOR KEY SHARE) THEN
    RAISE EXCEPTION 'update of vms: project % does not exist', NEW.project USING ERRCODE = '23503';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER vms_refs_updated AFTER UPDATE OF node, project ON vms FOR EACH ROW
  WHEN (NEW.node IS DISTINCT FROM OLD.node OR NEW.project IS DISTINCT FROM OLD.project)
  EXECUTE FUNCTION drover_vms_refs_updated();

-- TG_ARGV[0]: the vms column that refers to this table's name.
CREATE FUNCTION drover_refused_if_referenced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE referenced boolean;
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.name = OLD.name THEN RETURN NEW; END IF;
  EXECUTE format('SELECT EXISTS (SELECT 1 FROM vms WHERE %I = $1)', TG_ARGV[0]) INTO referenced USING OLD.name;
  IF referenced THEN
    RAISE EXCEPTION '% of %: % is still referenced by VMs', lower(TG_OP), TG_TABLE_NAME, OLD.name USING ERRCODE = '23503';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;
CREATE TRIGGER nodes_refused_if_referenced BEFORE DELETE OR UPDATE OF name ON nodes
  FOR EACH ROW EXECUTE FUNCTION drover_refused_if_referenced('node');
CREATE TRIGGER projects_refused_if_referenced BEFORE DELETE OR UPDATE OF name ON projects
  FOR EACH ROW EXECUTE FUNCTION drover_refused_if_referenced('project');

ALTER TABLE outbox ADD COLUMN vm_ids uuid[], ADD COLUMN nodes text[];
ALTER TABLE outbox ADD CONSTRAINT outbox_fan_out_check
  CHECK ((vm_ids IS NULL) = (nodes IS NULL) AND cardinality(vm_ids) = cardinality(nodes) AND cardinality(vm_ids) > 0);

-- The events of one outbox row (seq, payload, vm_ids, nodes) with a seq above after, at most max_events.
CREATE FUNCTION drover_outbox_events(row_seq bigint, row_payload jsonb, row_vm_ids uuid[], row_nodes text[], after bigint, max_events integer)
RETURNS TABLE (seq bigint, payload jsonb) LANGUAGE sql IMMUTABLE AS $$
  SELECT $1, $2 WHERE $3 IS NULL
  UNION ALL
  SELECT f.before + f.lo + x.i - 1, $2 || jsonb_build_object('vmId', x.vm_id, 'node', x.node)
  FROM (SELECT $1 - cardinality($3) AS before, greatest(1, coalesce($5 - ($1 - cardinality($3)) + 1, 1)) AS lo) f,
    unnest($3[f.lo : f.lo + $6 - 1], $4[f.lo : f.lo + $6 - 1]) WITH ORDINALITY AS x(vm_id, node, i)
  WHERE $3 IS NOT NULL
$$;
`;
