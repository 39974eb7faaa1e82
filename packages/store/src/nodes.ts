import type postgres from "postgres";
import type { Db } from "./db.js";
import type { Node, NodeCapacity, NodeStateName } from "./domain.js";
import { BEAT_BOUND_HELD_MS } from "./beat-bounds.js";
import { NODE_EVENT } from "./event-sql.js";
import { NODE_VM_CHANGES } from "./vm-changes.js";
import { NODE_CAPACITY_COLUMNS, nodeCapacityFromRow, nodeFromRow, type NodeCapacityRow, type NodeRow } from "./rows.js";

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
      state = CASE WHEN nodes.state IN ('DOWN', 'DEGRADED') THEN coalesce(nodes.state_before_down, 'READY') ELSE nodes.state END,
      state_before_down = NULL, reason = '',
      generation = nodes.generation + 1
    RETURNING *
    ), e AS (
      INSERT INTO outbox (subject, payload)
      SELECT ${db.unsafe(NODE_EVENT)} FROM n WHERE ${prev?.state ?? null}::text IS DISTINCT FROM n.state
    ), h AS (
      INSERT INTO node_heartbeats (name, unheard_ms) SELECT name, (SELECT unheard_ms FROM liveness_window) FROM n
      ON CONFLICT (name) DO UPDATE SET at = now(), unheard_ms = EXCLUDED.unheard_ms, timeout_ms = 0
      RETURNING at
    )
    SELECT ${db.unsafe(NODE_COLUMNS)} FROM n, h`;
  return { node: nodeFromRow(node!) };
}

/** One heartbeat's place in its agent's order: boot ids sort in boot order, seq counts up per boot. */
export interface HeartbeatStamp {
  name: string;
  /** "" from an agent that does not send one: every beat of it counts as fresh. */
  bootId: string;
  seq: number;
  /** How long ago the beat arrived (it may have waited for the database): it is recorded as of then. */
  waitedMs?: number;
  /** The silence after this beat that makes the node DOWN (its agent may beat slower than configured); absent or 0: the configured timeout. */
  timeoutMs?: number;
}

/** A recorded beat: the node's state, and whether the beat is newer than every one applied before. */
export interface RecordedBeat {
  state: NodeStateName;
  fresh: boolean;
  /** Set when this beat brought the node back from DOWN (its VMs were LOST meanwhile). */
  revived?: boolean;
  /** The count of changes to the node's VMs (vm-changes.ts): a new value means some VM row changed. */
  vmChanges: string;
  /** The node has LOST VMs (it went DOWN): a report of them running must be reconciled, not skipped. */
  lost: boolean;
}

/**
 * Records heartbeats in their own table, taking no lock on the node rows (claims hold those), for
 * several nodes in one statement. Every beat keeps its node alive; only a fresh one (from a later
 * boot, or the same boot with a higher seq) moves the node's last boot id and seq. Returns each
 * known node's state, its VM change count and whether it has LOST VMs; unknown names are left out. A DOWN node among them is not revived here: see
 * {@link reviveNodes}.
 */
export async function recordHeartbeats(db: Db, beats: readonly HeartbeatStamp[]): Promise<Map<string, RecordedBeat>> {
  return recordHeartbeatColumns(db, {
    names: beats.map((b) => b.name),
    bootIds: beats.map((b) => b.bootId),
    seqs: beats.map((b) => b.seq),
    waitedMs: beats.map((b) => b.waitedMs ?? 0),
    timeoutsMs: beats.map((b) => b.timeoutMs ?? 0),
  });
}

/** A batch of heartbeats as the statement takes them: one array per column, beat i at index i of each. */
export interface HeartbeatColumns {
  names: string[];
  bootIds: string[];
  seqs: number[];
  waitedMs: number[];
  /** HeartbeatStamp.timeoutMs of each beat (0: the configured timeout). */
  timeoutsMs: number[];
}

/**
 * recordHeartbeats for beats already laid out in columns (the batcher gathers them so: no object per
 * beat). Each column goes as one JSON text and the rows come back as one JSON value: postgres.js'
 * array parameters escape every element in JavaScript and its rows are an object each, ~2.2 µs of
 * the scheduler's CPU a beat at 1,250 beats a statement; JSON.stringify and JSON.parse do it natively.
 */
export async function recordHeartbeatColumns(db: Db, beats: HeartbeatColumns): Promise<Map<string, RecordedBeat>> {
  // Only name, state and freshness: this runs for every agent every few seconds, so it reads no more
  // than it returns. The heartbeat rows are locked (in name order) before freshness is judged, so two
  // batches beating for one node cannot both win. Boot ids compare byte-wise: the agent puts the boot
  // time first.
  const [row] = await db<{ recorded: [string, NodeStateName, boolean, string, boolean][] | null }[]>`
    WITH b AS (
      SELECT name, boot_id, seq::bigint AS seq, waited_ms::float8 AS waited_ms, timeout_ms::integer AS timeout_ms
      FROM ROWS FROM (json_array_elements_text(${JSON.stringify(beats.names)}::text::json), json_array_elements_text(${JSON.stringify(beats.bootIds)}::text::json),
        json_array_elements_text(${JSON.stringify(beats.seqs)}::text::json), json_array_elements_text(${JSON.stringify(beats.waitedMs)}::text::json),
        json_array_elements_text(${JSON.stringify(beats.timeoutsMs)}::text::json))
        AS b(name, boot_id, seq, waited_ms, timeout_ms)
    ), old AS (
      SELECT name, boot_id, seq FROM node_heartbeats WHERE name IN (SELECT name FROM b) ORDER BY name FOR UPDATE
    ), judged AS (
      SELECT DISTINCT ON (b.name) b.name, b.boot_id, b.seq,
        (b.boot_id = '' OR b.boot_id COLLATE "C" > old.boot_id COLLATE "C" OR (b.boot_id = old.boot_id AND b.seq > old.seq)) AS fresh,
        greatest(0, min(b.waited_ms) OVER (PARTITION BY b.name)) AS waited_ms,
        -- The newest beat's wait and the longest timeout told: whichever beat came last, no silence it allows is cut short.
        max(b.timeout_ms) OVER (PARTITION BY b.name) AS timeout_ms
      FROM b JOIN old USING (name) ORDER BY b.name, b.boot_id COLLATE "C" DESC, b.seq DESC
    ), h AS (
      -- As of when the node's latest beat arrived (the database clock less the wait the replica measured), and
      -- with the unheard time so far: liveness counts the beats nodes sent, not when we got to them.
      UPDATE node_heartbeats h SET at = greatest(h.at, now() - make_interval(secs => j.waited_ms / 1000)),
        unheard_ms = (SELECT unheard_ms FROM liveness_window),
        boot_id = CASE WHEN j.fresh THEN j.boot_id ELSE h.boot_id END,
        seq = CASE WHEN j.fresh THEN j.seq ELSE h.seq END,
        timeout_ms = CASE WHEN j.fresh THEN j.timeout_ms ELSE greatest(h.timeout_ms, j.timeout_ms) END
      FROM judged j WHERE h.name = j.name
      RETURNING h.name, j.fresh
    )
    SELECT json_agg(json_build_array(n.name, n.state, h.fresh, ${db.unsafe(NODE_VM_CHANGES)},
      EXISTS (SELECT 1 FROM vms WHERE vms.node = n.name AND vms.state = 'LOST'))) AS recorded
    FROM nodes n JOIN h USING (name)`;
  const recorded = new Map<string, RecordedBeat>();
  for (const [name, state, fresh, vmChanges, lost] of row?.recorded ?? []) recorded.set(name, { state, fresh, vmChanges, lost });
  return recorded;
}

/**
 * DOWN nodes that beat again return to their state before (a cordon survives), each with its event,
 * in one statement: after an outage every node of the fleet comes back at once, and one statement
 * each (10,000 on the heartbeats' two connections) held every beat's record behind them for
 * minutes. The rows are locked in name order, as claims lock them. Returns each known node's state
 * now (another beat may have revived it meanwhile).
 */
export async function reviveNodes(db: Db, names: readonly string[]): Promise<Map<string, NodeStateName>> {
  const rows = await db<{ name: string; state: NodeStateName }[]>`
    WITH p AS (
      SELECT name, state AS previous_state FROM nodes WHERE name = ANY(${[...names]}::text[]) ORDER BY name FOR UPDATE
    ), n AS (
      UPDATE nodes n SET state = coalesce(n.state_before_down, 'READY'), state_before_down = NULL, reason = ''
      FROM p WHERE n.name = p.name AND n.state = 'DOWN'
      RETURNING n.*, p.previous_state
    ), e AS (
      INSERT INTO outbox (subject, payload) SELECT ${db.unsafe(NODE_EVENT)} FROM n WHERE n.previous_state <> n.state
    )
    SELECT p.name, coalesce(n.state, p.previous_state) AS state FROM p LEFT JOIN n USING (name)`;
  return new Map(rows.map((r) => [r.name, r.state]));
}

/**
 * A node whose agent cannot reach libvirt (`problem`, non-empty) becomes DEGRADED, keeping the
 * operator's state to return to; with `problem` empty a DEGRADED node returns to it. A DOWN node is
 * left alone (it is revived first). Returns the node's state now, or null when it is unknown.
 */
export async function setLibvirtHealth(db: Db, name: string, problem: string): Promise<NodeStateName | null> {
  const changed = problem
    ? await updateWithEvent(
        db,
        name,
        db`state = 'DEGRADED', reason = ${problem},
          state_before_down = CASE WHEN n.state = 'DEGRADED' THEN n.state_before_down ELSE n.state END`,
        db`AND n.state IN ('READY', 'CORDONED', 'DRAINING', 'DEGRADED')`,
      )
    : await updateWithEvent(
        db,
        name,
        db`state = coalesce(n.state_before_down, 'READY'), state_before_down = NULL, reason = ''`,
        db`AND n.state = 'DEGRADED'`,
      );
  if (changed) return changed.node.state;
  const [row] = await db<{ state: NodeStateName }[]>`SELECT state FROM nodes WHERE name = ${name}`;
  return row?.state ?? null;
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

/**
 * Every node as placement sees it, by name (takeSnapshot; the node cache reads the same columns with readNodeCapacities). Only the
 * columns placement uses, and no heartbeat join (a node's heartbeat row is made with it, see
 * upsertNode): postgres.js parses each column of each row, and at 5,000 nodes listNodes cost the
 * scheduler ~95 ms of CPU per read, this ~40 ms (docs/benchmarks.md, scheduler CPU per VM).
 */
export async function listNodeCapacities(db: Db): Promise<NodeCapacity[]> {
  const rows = await db<NodeCapacityRow[]>`
    SELECT ${db.unsafe(NODE_CAPACITY_COLUMNS)} FROM nodes ORDER BY name`;
  return rows.map(nodeCapacityFromRow);
}

/**
 * Sets an operator state (cordon, drain, uncordon). A DEGRADED node stays DEGRADED and returns to
 * this state once healthy. Returns the node after, or null when it is unknown.
 */
export async function setNodeState(
  db: Db,
  name: string,
  state: NodeStateName,
): Promise<{ node: Node } | null> {
  return updateWithEvent(
    db,
    name,
    db`state = CASE WHEN n.state = 'DEGRADED' THEN n.state ELSE ${state} END,
      state_before_down = CASE WHEN n.state = 'DEGRADED' THEN ${state} ELSE n.state_before_down END`,
  );
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
 * Marks DOWN every node the scheduler has not heard for its timeout (the larger of `timeoutMs` and
 * the one its last beat was recorded with, but no longer than the longest bound a replica wrote in
 * the last BEAT_BOUND_HELD_MS, beat-bounds.ts: no correct agent beats slower), judged by the database clock
 * so replicas with skewed clocks agree: its last heartbeat is older than the timeout counted from
 * the liveness window's start, and also after taking away the time no replica could hear
 * (tickLivenessWindow). Never because the database or the scheduler was out of reach. Nodes in
 * `pending` are left alone: this replica holds a beat of theirs it has not recorded yet.
 */
export async function markSilentNodesDown(db: Db, timeoutMs: number, pending: readonly string[] = []): Promise<Node[]> {
  const secs = timeoutMs / 1000;
  // The node rows are locked in name order first, as claims lock them (claims.ts): two statements
  // that lock the same nodes in different orders can deadlock.
  const rows = await db<NodeRow[]>`
    WITH w AS MATERIALIZED (
      -- The one row, and Postgres told so: it estimated 1,540 rows (an unanalyzed table), and the plan's cost
      -- made it JIT-compile the statement on every tick (72 ms a tick at 5,000 nodes, 44 of it JIT).
      SELECT started_at, unheard_ms FROM liveness_window LIMIT 1
    ), silent AS MATERIALIZED (
      -- Each node by the timeout its last beat was recorded with (a slowed agent's is longer), never below the configured
      -- one, and never above the replicas' bound (none written: no bound). The bound is a scalar subquery, computed once
      -- (a join aggregated beat_bounds once per node); float8 throughout (numeric arithmetic on every row was most of the rest).
      SELECT h.name FROM node_heartbeats h, w,
        LATERAL (SELECT greatest(${secs}::float8, least(h.timeout_ms / 1000.0::float8,
          coalesce((SELECT max(timeout_ms) / 1000.0::float8 FROM beat_bounds WHERE told_at > now() - make_interval(secs => ${BEAT_BOUND_HELD_MS / 1000})),
            'infinity'::float8))) AS secs) t
      WHERE greatest(h.at, w.started_at) < now() - make_interval(secs => t.secs)
        AND date_part('epoch', now() - h.at) - (w.unheard_ms - h.unheard_ms) / 1000 > t.secs
        AND h.name <> ALL(${[...pending]}::text[])
    ), n AS (
      -- A DEGRADED node keeps the operator's state it already remembers.
      UPDATE nodes n SET state = 'DOWN',
        state_before_down = CASE WHEN n.state = 'DEGRADED' THEN n.state_before_down ELSE n.state END, reason = ''
      FROM node_heartbeats h
      WHERE h.name = n.name AND n.state <> 'DOWN'
        AND n.name = ANY(ARRAY(SELECT l.name FROM nodes l WHERE l.name = ANY(ARRAY(SELECT name FROM silent)) AND l.state <> 'DOWN' ORDER BY l.name FOR NO KEY UPDATE))
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
