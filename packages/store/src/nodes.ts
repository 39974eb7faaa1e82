import type postgres from "postgres";
import type { Db } from "./db.js";
import type { Node, NodeStateName } from "./domain.js";
import { NODE_EVENT } from "./event-sql.js";
import { nodeFromRow, type NodeRow } from "./rows.js";

/** A node row with its last heartbeat, from `nodes n JOIN node_heartbeats h`. */
const NODE_COLUMNS = "n.*, h.at AS last_heartbeat";

export interface NodeRegistration {
  name: string;
  address: string;
  vcpus: number;
  memoryMib: number;
  diskGib: number;
  labels: Record<string, string>;
}

/** Used only when a node is first seen; later changes go through the node's own row. */
export interface NodeDefaults {
  cpuRatio: number;
  memoryRatio: number;
  diskRatio: number;
  reservedVcpus: number;
  reservedMemoryMib: number;
  reservedDiskGib: number;
}

/**
 * Inserts or refreshes a node. A re-registering DOWN node comes back in the
 * state it had before (READY, or the operator's CORDONED/DRAINING). A node
 * event is written when the state changed (or the node is new).
 */
export async function upsertNode(
  db: Db,
  reg: NodeRegistration,
  defaults: NodeDefaults,
): Promise<{ node: Node }> {
  const [prev] = await db<{ state: NodeStateName }[]>`SELECT state FROM nodes WHERE name = ${reg.name} FOR UPDATE`;
  const [node] = await db<NodeRow[]>`
    WITH n AS (
    INSERT INTO nodes (name, address, vcpus, memory_mib, disk_gib, labels,
      cpu_ratio, memory_ratio, disk_ratio, reserved_vcpus, reserved_memory_mib, reserved_disk_gib)
    VALUES (${reg.name}, ${reg.address}, ${reg.vcpus}, ${reg.memoryMib}, ${reg.diskGib}, ${db.json(reg.labels)},
      ${defaults.cpuRatio}, ${defaults.memoryRatio}, ${defaults.diskRatio},
      ${defaults.reservedVcpus}, ${defaults.reservedMemoryMib}, ${defaults.reservedDiskGib})
    ON CONFLICT (name) DO UPDATE SET
      address = EXCLUDED.address, vcpus = EXCLUDED.vcpus, memory_mib = EXCLUDED.memory_mib,
      disk_gib = EXCLUDED.disk_gib, labels = EXCLUDED.labels,
      state = CASE WHEN nodes.state = 'DOWN' THEN coalesce(nodes.state_before_down, 'READY') ELSE nodes.state END,
      state_before_down = NULL,
      generation = nodes.generation + 1
    RETURNING *
    ), e AS (
      INSERT INTO outbox (subject, payload)
      SELECT ${db.unsafe(NODE_EVENT)} FROM n WHERE ${prev?.state ?? null}::text IS DISTINCT FROM n.state
    ), h AS (
      INSERT INTO node_heartbeats (name) SELECT name FROM n
      ON CONFLICT (name) DO UPDATE SET at = now()
      RETURNING at
    )
    SELECT ${db.unsafe(NODE_COLUMNS)} FROM n, h`;
  return { node: nodeFromRow(node!) };
}

/**
 * Records heartbeats in their own table, taking no lock on the node rows (claims hold those), for
 * several nodes in one statement. Returns each known node's state; unknown names are left out.
 * A DOWN node among them is not revived here: see {@link reviveNode}.
 */
export async function recordHeartbeats(db: Db, names: readonly string[]): Promise<Map<string, NodeStateName>> {
  // Only name and state: this runs for every agent every few seconds, so it reads no more than it returns.
  const rows = await db<{ name: string; state: NodeStateName }[]>`
    WITH h AS (UPDATE node_heartbeats SET at = now() WHERE name = ANY(${names as string[]}::text[]) RETURNING name)
    SELECT n.name, n.state FROM nodes n JOIN h USING (name)`;
  return new Map(rows.map((r) => [r.name, r.state]));
}

/** A DOWN node that beats again returns to its state before (a cordon survives). Returns its state now. */
export async function reviveNode(db: Db, name: string): Promise<NodeStateName> {
  const changed = await updateWithEvent(
    db,
    name,
    db`state = coalesce(n.state_before_down, 'READY'), state_before_down = NULL`,
    db`AND n.state = 'DOWN'`,
  );
  if (changed) return changed.node.state;
  // Revived meanwhile by a concurrent beat (or deleted): report what is there now.
  const [row] = await db<{ state: NodeStateName }[]>`SELECT state FROM nodes WHERE name = ${name}`;
  return row?.state ?? "DOWN";
}

export async function getNode(db: Db, name: string): Promise<Node | null> {
  const [row] = await db<NodeRow[]>`SELECT ${db.unsafe(NODE_COLUMNS)} FROM nodes n JOIN node_heartbeats h USING (name) WHERE n.name = ${name}`;
  return row ? nodeFromRow(row) : null;
}

/** Nodes in name order (unique, so a page after a name is exact); `page.limit` unset means all. */
export async function listNodes(db: Db, state?: NodeStateName, page: { afterName?: string; limit?: number } = {}): Promise<Node[]> {
  const rows = await db<NodeRow[]>`
    SELECT ${db.unsafe(NODE_COLUMNS)} FROM nodes n JOIN node_heartbeats h USING (name)
    WHERE (${state ?? null}::text IS NULL OR n.state = ${state ?? null})
      AND (${page.afterName ?? null}::text IS NULL OR n.name > ${page.afterName ?? null})
    ORDER BY n.name
    LIMIT ${page.limit ?? null}`;
  return rows.map(nodeFromRow);
}

/** Sets an operator state (cordon, drain, uncordon). Returns the node after, or null when it is unknown. */
export async function setNodeState(
  db: Db,
  name: string,
  state: NodeStateName,
): Promise<{ node: Node } | null> {
  return updateWithEvent(db, name, db`state = ${state}`);
}

/**
 * Applies `set` to one node, locking it to read its state before, and writes
 * a node event when the state changed. Null when the node is unknown or
 * `condition` does not hold.
 */
async function updateWithEvent(
  db: Db,
  name: string,
  set: postgres.Fragment,
  condition: postgres.Fragment = db``,
): Promise<{ node: Node } | null> {
  const [row] = await db<NodeRow[]>`
    WITH n AS (
      UPDATE nodes n SET ${set}
      FROM (SELECT name, state AS previous_state FROM nodes WHERE name = ${name} FOR UPDATE) p
      WHERE n.name = p.name ${condition}
      RETURNING n.*, p.previous_state
    ), e AS (
      INSERT INTO outbox (subject, payload) SELECT ${db.unsafe(NODE_EVENT)} FROM n WHERE n.previous_state <> n.state
    )
    SELECT ${db.unsafe(NODE_COLUMNS)} FROM n JOIN node_heartbeats h USING (name)`;
  if (!row) return null;
  return { node: nodeFromRow(row) };
}

/**
 * Marks DOWN every node whose last heartbeat is older than the timeout,
 * judged by the database clock so replicas with skewed clocks agree, and
 * only within the liveness window (tickLivenessWindow): a node is silent
 * when the scheduler could record heartbeats for the whole timeout and none
 * came from it, never because the database was out of reach.
 */
export async function markSilentNodesDown(db: Db, timeoutMs: number): Promise<Node[]> {
  const rows = await db<NodeRow[]>`
    WITH n AS (
      UPDATE nodes n SET state = 'DOWN', state_before_down = n.state
      FROM node_heartbeats h, liveness_window w
      WHERE h.name = n.name AND n.state <> 'DOWN'
        AND greatest(h.at, w.started_at) < now() - make_interval(secs => ${timeoutMs / 1000})
      RETURNING ${db.unsafe(NODE_COLUMNS)}
    ), e AS (
      INSERT INTO outbox (subject, payload) SELECT ${db.unsafe(NODE_EVENT)} FROM n
    )
    SELECT * FROM n`;
  return rows.map(nodeFromRow);
}

export interface AllocationChange {
  cpuRatio?: number;
  memoryRatio?: number;
  diskRatio?: number;
  reserved?: { vcpus: number; memoryMib: number; diskGib: number };
}

/** Sets ratios and reservations; unset fields keep their value. Existing claims stay even if now above allocatable. */
export async function updateNodeAllocation(db: Db, name: string, c: AllocationChange): Promise<Node | null> {
  const [row] = await db<NodeRow[]>`
    UPDATE nodes SET
      cpu_ratio = coalesce(${c.cpuRatio ?? null}::float8, cpu_ratio),
      memory_ratio = coalesce(${c.memoryRatio ?? null}::float8, memory_ratio),
      disk_ratio = coalesce(${c.diskRatio ?? null}::float8, disk_ratio),
      reserved_vcpus = coalesce(${c.reserved?.vcpus ?? null}::int, reserved_vcpus),
      reserved_memory_mib = coalesce(${c.reserved?.memoryMib ?? null}::bigint, reserved_memory_mib),
      reserved_disk_gib = coalesce(${c.reserved?.diskGib ?? null}::bigint, reserved_disk_gib),
      generation = generation + 1
    WHERE name = ${name}
    RETURNING *, (SELECT at FROM node_heartbeats h WHERE h.name = nodes.name) AS last_heartbeat`;
  return row ? nodeFromRow(row) : null;
}
