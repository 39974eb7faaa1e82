// The per-node count of changes to its VMs (migration 027): appended by triggers on vms (inserts,
// deletes, and updates of what a heartbeat's reconcile reads: migration 035), folded here, read
// with each heartbeat (recordHeartbeats) so every replica's report memo sees any such change.
import type { Sql } from "./db.js";
import { tryLockVmChanges } from "./locks.js";
import { transaction } from "./transaction.js";

/** SQL for node `n`'s change count now (text: compared, never summed, by the caller). */
export const NODE_VM_CHANGES = `(coalesce((SELECT folded FROM node_vm_changes c WHERE c.node = n.name), 0)
  + (SELECT count(*) FROM vm_changes c WHERE c.node = n.name))::text`;

/**
 * Moves the appended change rows into their nodes' folded counts, in one statement (a node's count
 * stays the same meanwhile, and vm_changes stays a few rows long for the heartbeats that count it).
 * One replica at a time (the others skip); returns how many rows it folded.
 */
export async function foldVmChanges(db: Sql): Promise<number> {
  return transaction(db, async (tx) => {
    if (!(await tryLockVmChanges(tx))) return 0;
    const [row] = await tx<{ n: number }[]>`
      WITH d AS (
        DELETE FROM vm_changes RETURNING node
      ), f AS (
        INSERT INTO node_vm_changes (node, folded)
        SELECT node, count(*) FROM d GROUP BY node ORDER BY node
        ON CONFLICT (node) DO UPDATE SET folded = node_vm_changes.folded + excluded.folded
      )
      SELECT count(*)::int AS n FROM d`;
    return row?.n ?? 0;
  });
}
