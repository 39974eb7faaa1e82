// drover_vms_refs_inserted (migration 024) checks that a statement's new VM rows name existing
// nodes and projects. plpgsql plans its queries once per session and reuses the plan; planned for
// a first insert of one VM (the transition table estimated at one row), the anti-join against a
// locking sub-select ran that sub-select again for every distinct node: quadratic in a bulk's
// nodes, minutes for 5,000 VMs on 5,000 nodes. Here each distinct node (and project) is looked up
// and locked on its own, by its primary key, from a correlated NOT EXISTS that cannot be pulled up
// into a join (it locks): one index probe per node, whatever the plan's estimates. Same result,
// same KEY SHARE locks, the same error.
export const sql034 = /* sql */ `
CREATE OR REPLACE FUNCTION drover_vms_refs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE missing text;
BEGIN
  SELECT min(r.node) INTO missing
  FROM (SELECT DISTINCT node FROM new_vms WHERE node IS NOT NULL) r
  WHERE NOT EXISTS (SELECT 1 FROM nodes n WHERE n.name = r.node FOR KEY SHARE);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'insert into vms: node % does not exist', missing USING ERRCODE = '23503';
  END IF;
  SELECT min(r.project) INTO missing
  FROM (SELECT DISTINCT project FROM new_vms) r
  WHERE NOT EXISTS (SELECT 1 FROM projects p WHERE p.name = r.project FOR KEY SHARE);
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'insert into vms: project % does not exist', missing USING ERRCODE = '23503';
  END IF;
  RETURN NULL;
END $$;
`;
