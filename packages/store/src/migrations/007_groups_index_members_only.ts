// Most VMs belong to no (anti-)affinity group, but the GIN index on `groups`
// had an entry for each of their empty arrays: every VM insert and every
// state change (none is HOT, `state` is indexed) wrote to it, and its pending
// list had to be merged in the middle of some unlucky statement. Only VMs
// that have groups are looked up through it (groupMembersByNode).
export const sql007 = /* sql */ `
DROP INDEX vms_groups_idx;
CREATE INDEX vms_groups_idx ON vms USING gin (groups) WHERE claimed AND cardinality(groups) > 0;
`;
