// Group membership rows (migration 019): what (anti-)affinity is checked against, kept by the
// statements that make and release claims. Lock order, as everywhere: node rows, then project
// rows, then group rows (these fragments come last in their statements).
import type postgres from "postgres";
import type { Db } from "./db.js";
import { GroupConflictError } from "./errors.js";

/** One claimed VM's part in its groups. */
export interface GroupMember {
  node: string;
  /** Every group the VM names (anti-affinity, affinity, soft anti-affinity), as stored in `vms.groups`. */
  groups: readonly string[];
  /** Hard anti-affinity: no other member of this group on the node before it. */
  antiAffinityGroup?: string | undefined;
  /** Hard affinity: the group's members on one node. */
  affinityGroup?: string | undefined;
}

interface Pairs {
  groups: string[];
  nodes: string[];
  counts: number[];
}

/** Members summed per (group, node): `strict` pairs hold an anti-affinity member and must have been empty. */
export interface GroupAdds {
  strict: Pairs;
  loose: Pairs;
  /** Groups some member names as its affinity group. */
  affinity: string[];
}

/** Sums the members per (group, node), sorted so concurrent statements take the rows in one order. */
export function sumGroupMembers(members: readonly GroupMember[]): GroupAdds {
  const pairs = new Map<string, { g: string; n: string; k: number; anti: number }>();
  const affinity = new Set<string>();
  for (const m of members) {
    for (const g of m.groups) {
      const key = `${g}\u0000${m.node}`;
      const p = pairs.get(key) ?? { g, n: m.node, k: 0, anti: 0 };
      p.k++;
      pairs.set(key, p);
    }
    if (m.antiAffinityGroup) pairs.get(`${m.antiAffinityGroup}\u0000${m.node}`)!.anti++;
    if (m.affinityGroup) affinity.add(m.affinityGroup);
  }
  const strict: Pairs = { groups: [], nodes: [], counts: [] };
  const loose: Pairs = { groups: [], nodes: [], counts: [] };
  for (const p of [...pairs.values()].sort((a, b) => (a.g < b.g ? -1 : a.g > b.g ? 1 : a.n < b.n ? -1 : a.n > b.n ? 1 : 0))) {
    // Two anti-affinity members of one group on one node: refused before it costs a round trip.
    if (p.anti > 1) throw new GroupConflictError([`anti-affinity group ${p.g} twice on ${p.n}`]);
    const to = p.anti > 0 ? strict : loose;
    to.groups.push(p.g);
    to.nodes.push(p.n);
    to.counts.push(p.k);
  }
  return { strict, loose, affinity: [...affinity].sort() };
}

export const hasGroupAdds = (a: GroupAdds): boolean => a.strict.groups.length + a.loose.groups.length > 0;

/**
 * The CTEs (each starting with a comma, to follow others in a WITH) that add the members to
 * group_members and placement_groups, and the select-list entries (each starting with a comma)
 * that call drover_group_conflict (DR019) when a check fails:
 * - a strict (anti-affinity) pair only goes from 0 members: ON CONFLICT ... WHERE judges the
 *   row's latest committed version, after waiting for any writer holding it;
 * - a group whose members open a node it had none on counts it in placement_groups (the same
 *   kind of upsert), and an affinity group may not end up on more than one node.
 * Empty fragments when there is nothing to add, so plain creates run the statement they always did.
 */
export function groupAddParts(db: Db, a: GroupAdds): { ctes: postgres.Fragment; checks: postgres.Fragment } {
  if (!hasGroupAdds(a)) return { ctes: db``, checks: db`` };
  const { strict: s, loose: l } = a;
  const ctes = db`,
    gs AS (
      INSERT INTO group_members AS m (group_name, node, members)
      SELECT * FROM unnest(${s.groups}::text[], ${s.nodes}::text[], ${s.counts}::int[])
      ON CONFLICT (group_name, node) DO UPDATE SET members = m.members + EXCLUDED.members WHERE m.members = 0
      RETURNING m.group_name, m.node
    ),
    gl AS (
      INSERT INTO group_members AS m (group_name, node, members)
      SELECT * FROM unnest(${l.groups}::text[], ${l.nodes}::text[], ${l.counts}::int[])
      ON CONFLICT (group_name, node) DO UPDATE SET members = m.members + EXCLUDED.members
      RETURNING m.group_name, m.node, m.members
    ),
    go AS (
      SELECT group_name AS g FROM gs
      UNION ALL
      SELECT gl.group_name FROM gl
        JOIN unnest(${l.groups}::text[], ${l.nodes}::text[], ${l.counts}::int[]) AS i(g, n, k) ON gl.group_name = i.g AND gl.node = i.n
        WHERE gl.members = i.k
    ),
    gp AS (
      INSERT INTO placement_groups AS p (name, nodes)
      SELECT g, count(*) FROM go GROUP BY g ORDER BY g
      ON CONFLICT (name) DO UPDATE SET nodes = p.nodes + EXCLUDED.nodes
      RETURNING p.name, p.nodes
    )`;
  const checks = db`,
    CASE WHEN (SELECT count(*) FROM gs) = ${s.groups.length} THEN true
      ELSE drover_group_conflict(ARRAY(
        SELECT 'anti-affinity group ' || i.g || ' already on ' || i.n FROM unnest(${s.groups}::text[], ${s.nodes}::text[]) AS i(g, n)
        WHERE NOT EXISTS (SELECT 1 FROM gs WHERE gs.group_name = i.g AND gs.node = i.n)))
    END AS anti_affinity_ok,
    CASE WHEN NOT EXISTS (SELECT 1 FROM gp WHERE gp.nodes > 1 AND gp.name = ANY(${a.affinity}::text[])) THEN true
      ELSE drover_group_conflict(ARRAY(
        SELECT 'affinity group ' || gp.name || ' would span ' || gp.nodes || ' nodes' FROM gp WHERE gp.nodes > 1 AND gp.name = ANY(${a.affinity}::text[])))
    END AS affinity_ok`;
  return { ctes, checks };
}

/** Adds members to their groups in a statement of their own (in the caller's transaction); throws GroupConflictError when a check fails. */
export async function claimGroupMembers(db: Db, members: readonly GroupMember[]): Promise<void> {
  const adds = sumGroupMembers(members);
  if (!hasGroupAdds(adds)) return;
  const { ctes, checks } = groupAddParts(db, adds);
  await db`WITH nothing AS (SELECT 1) ${ctes} SELECT 1 ${checks}`.catch((err: unknown) => {
    throw asGroupConflict(err) ?? err;
  });
}

/** The store's error for a DR019 from drover_group_conflict, else undefined. */
export function asGroupConflict(err: unknown): GroupConflictError | undefined {
  const e = err as { code?: string; detail?: string };
  return e.code === "DR019" ? new GroupConflictError((e.detail ?? "").split(",").filter(Boolean), { cause: err }) : undefined;
}

/**
 * The CTEs (each starting with a comma) that take a released VM out of its groups: `vm` is a CTE
 * of the statement returning the VM's `node` and `groups`. A node the group no longer has
 * members on leaves its count in placement_groups.
 */
export const RELEASE_GROUP_MEMBERS = `,
  gd AS (
    UPDATE group_members m SET members = greatest(0, m.members - d.k)
    FROM (SELECT g, vm.node, count(*)::int AS k FROM vm, unnest(vm.groups) AS g WHERE vm.node IS NOT NULL GROUP BY 1, 2) d
    WHERE m.group_name = d.g AND m.node = d.node AND m.members > 0
    RETURNING m.group_name, m.members
  ),
  gc AS (
    UPDATE placement_groups p SET nodes = greatest(0, p.nodes - 1) FROM gd WHERE p.name = gd.group_name AND gd.members = 0
  )`;

/** Members of the given groups per node (nodes without members left out): a replica's group cache reads this. */
export async function readGroupMembers(db: Db, groups: readonly string[]): Promise<{ group: string; node: string; members: number }[]> {
  if (groups.length === 0) return [];
  return db<{ group: string; node: string; members: number }[]>`
    SELECT group_name AS group, node, members FROM group_members WHERE group_name = ANY(${groups as string[]}::text[]) AND members > 0`;
}
