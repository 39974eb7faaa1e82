// A heartbeat's reconcile read (reconcile-needs.ts) is one prepared statement, but Postgres planned
// it anew on every call: it guesses 10 rows for unnest() of a parameter, so the reusable (generic)
// plan looked dearer than one planned for the actual report (cost 185 against 57 for a node of 2 VMs
// at 5,000 nodes), and Postgres kept planning (0.95 ms a call against 0.36 ms with the generic plan).

import type { Db } from "./db.js";

/**
 * `LIMIT n`, n the length of the report array the subquery unnests. It drops no row (unnest yields
 * exactly that many), but a LIMIT the planner cannot read (a parameter, in the generic plan) counts
 * as 10 % of the rows: the report is sized as one row, so the generic plan costs less than a custom
 * one and is reused. A custom plan sees n itself.
 */
export function asManyAsReported(db: Db, reported: readonly unknown[]) {
  return db`LIMIT ${reported.length}`;
}
