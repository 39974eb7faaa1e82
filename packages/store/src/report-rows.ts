// A heartbeat's reconcile read (reconcile-needs.ts) is one prepared statement per connection, and
// Postgres guesses 10 rows for unnest() of a parameter. Two ways that went wrong (bench:api):
// - 5,000 nodes of 2 VMs: the reusable (generic) plan looked dearer than one made for the actual
//   report (cost 185 against 57), so every call was planned anew (0.95 ms against 0.36 ms).
// - 1,000 nodes: the generic plan was made at the fleet's first beats, vms empty, and read vms
//   whole for 10 ids; kept as vms grew, it cost 21 ms of Postgres a call.
// Sized as one row, each report reads vms by index, and the generic plan is the cheaper one.

import type { Db } from "./db.js";

/**
 * `LIMIT n`, n the length of the report array the subquery unnests. It drops no row (unnest yields
 * exactly that many), but a LIMIT the planner cannot read (a parameter, in the generic plan) counts
 * as 10 % of the rows: one row. A plan made for the parameters sees n itself.
 */
export function asManyAsReported(db: Db, reported: readonly unknown[]) {
  return db`LIMIT ${reported.length}`;
}
