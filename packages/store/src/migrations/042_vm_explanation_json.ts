// vm_explanation_json: a VM's placement explanation (the proto JSON of PlacementExplanation) as
// json, which Postgres stores as the text it was given, instead of jsonb, which it builds anew for
// every row. The create statements insert each VM's own explanation (its node's scores differ
// from VM to VM), so on a 10,000-VM bulk that building was 16-20 % of the rows' insert
// (docs/benchmarks.md, "Per-row JSON in the VM insert"). Nothing reads the explanation in SQL.
// A new column, not a new type for the old one: ALTER ... TYPE would rewrite the whole table
// under an exclusive lock. Rows from before keep theirs in `placement` (rows.ts reads either).
export const sql042 = /* sql */ `
ALTER TABLE vms ADD COLUMN explanation json;
`;
