import type { Db } from "./db.js";
import type { NodeCapacity } from "./domain.js";
import { NODE_CAPACITY_COLUMNS, nodeCapacityFromRow, type NodeCapacityRow } from "./rows.js";

/** One read of nodes as placement sees them (NODE_CAPACITY_COLUMNS), with what the next read needs. */
export interface NodeCapacityRead {
  /** The rows read, by name. */
  nodes: NodeCapacity[];
  /** How many nodes there are: fewer than the reader holds, or a name it does not know, means nodes went or came. */
  total: number;
  /** The read's snapshot xmin (an xid8, as text): the `since` of the next read. */
  cursor: string;
}

/**
 * Every node written since the read whose cursor is `since` (every node when null), plus the nodes
 * named in `also`, in one statement and one snapshot. A row's changed_xid is the transaction that
 * last wrote it (migration 041's trigger); every transaction the earlier read could not see has an
 * id at or above that read's snapshot xmin, so this finds every row that differs from what that
 * read saw, also when it committed after a later transaction that a read in between already saw.
 * It may return rows that did not change (a superset): the reader compares.
 */
export async function readNodeCapacities(db: Db, since: string | null, also: readonly string[] = []): Promise<NodeCapacityRead> {
  const rows = await db<(Omit<NodeCapacityRow, "name"> & { cursor: string; total: number; name: string | null })[]>`
    WITH s AS (
      SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS cursor, (SELECT count(*) FROM nodes)::int AS total
    )
    SELECT s.cursor, s.total, ${db.unsafe(NODE_CAPACITY_COLUMNS)}
    FROM s LEFT JOIN nodes n ON ${since === null ? db`true` : db`n.changed_xid >= ${since}::xid8 OR n.name = ANY(${[...also]}::text[])`}
    ORDER BY n.name`;
  const first = rows[0]!;
  return {
    nodes: rows.filter((r): r is typeof r & { name: string } => r.name !== null).map(nodeCapacityFromRow),
    total: first.total,
    cursor: first.cursor,
  };
}
