// (Anti-)affinity at scale: the claimed members of each group per node, kept in their own rows
// by the statements that make and release claims (groups.ts), so a create checks its groups in
// its own statement instead of holding a group lock across a transaction and re-reading every
// node. Rows are updated in place, never deleted (a row at 0 is a node the group left).
//
// - group_members: members of a group on a node. An anti-affinity placement may only raise a
//   row from 0 (ON CONFLICT ... WHERE members = 0 judges the row's latest version, so two
//   replicas cannot both put a member on one node).
// - placement_groups: on how many nodes a group has members. Only a statement that opens a node
//   for a group updates it, so an affinity placement that would make its group span two nodes is
//   seen on the row's latest version too.
// drover_group_conflict raises DR019 (a group check refused; the caller re-reads the group and
// places again), which callers tell from DR001 (a capacity claim refused).
export const sql019 = /* sql */ `
CREATE TABLE group_members (
  group_name text NOT NULL,
  node       text NOT NULL,
  members    integer NOT NULL CHECK (members >= 0),
  PRIMARY KEY (group_name, node)
);
CREATE TABLE placement_groups (
  name  text PRIMARY KEY,
  nodes integer NOT NULL CHECK (nodes >= 0)
);
INSERT INTO group_members (group_name, node, members)
  SELECT g, node, count(*) FROM vms, unnest(groups) AS g
  WHERE claimed AND cardinality(groups) > 0 AND node IS NOT NULL GROUP BY g, node;
INSERT INTO placement_groups (name, nodes)
  SELECT group_name, count(*) FROM group_members GROUP BY group_name;

CREATE FUNCTION drover_group_conflict(refused text[]) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  RAISE EXCEPTION 'group conflict: %', array_to_string(refused, ', ')
    USING ERRCODE = 'DR019', DETAIL = array_to_string(refused, ',');
END $$;
`;
