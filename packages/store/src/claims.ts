import type { Db } from "./db.js";
import { ClaimConflictError, isLockRace } from "./errors.js";
import { RELEASE_GROUP_MEMBERS } from "./groups.js";
import { RELEASE_QUOTA } from "./quota.js";

export interface Claim {
  node: string;
  vcpus: number;
  memoryMib: number;
  diskGib: number;
}

/** Sums claims per node, so one conditional update covers each node once. */
export function sumClaimsByNode(claims: Claim[]): Claim[] {
  const byNode = new Map<string, Claim>();
  for (const c of claims) {
    const sum = byNode.get(c.node) ?? { node: c.node, vcpus: 0, memoryMib: 0, diskGib: 0 };
    sum.vcpus += c.vcpus;
    sum.memoryMib += c.memoryMib;
    sum.diskGib += c.diskGib;
    byNode.set(c.node, sum);
  }
  return [...byNode.values()].sort((a, b) => (a.node < b.node ? -1 : 1));
}

/**
 * The conditional UPDATE that adds summed claims (sumClaimsByNode) to their
 * nodes, returning the names (and agent addresses) of the nodes it updated: a fragment, run by
 * claimResources or embedded in a larger statement. A node is only updated
 * if it is READY and its new totals stay within allocatable, so no
 * interleaving of writers can overcommit it.
 *
 * Allocatable is `max(0, floor(capacity × ratio) − reserved)`, the same as
 * placement's allocatable() (packages/placement/src/resources.ts), the one
 * TypeScript definition, which the engine places with. The store imports no
 * placement code, so the SQL is a second spelling of it:
 * packages/scheduler/src/create/allocatable-sql.property.test.ts holds the
 * two to the same numbers on real Postgres.
 */
export function claimUpdate(db: Db, sums: Claim[]) {
  const names = sums.map((s) => s.node);
  // Locks first, in name order, so concurrent claims cannot deadlock. An ORDER BY in the
  // UPDATE's FROM would not do it: the UPDATE locks rows in the order its join plan yields
  // them (and re-finds a row updated meanwhile wherever its new version lies). Here:
  // - in the sub-SELECT, LockRows runs above the Sort, so it locks the rows in name order;
  // - ARRAY(sub-SELECT) is uncorrelated, so Postgres runs it as an InitPlan, to completion,
  //   before the UPDATE yields its first row: every lock of this statement is taken there.
  // FOR NO KEY UPDATE is the lock the UPDATE itself takes, so FK checks of concurrent VM
  // inserts (FOR KEY SHARE on the node) do not wait for it.
  return db<{ name: string; address: string }[]>`
    UPDATE nodes n SET
      alloc_vcpus = n.alloc_vcpus + c.vcpus,
      alloc_memory_mib = n.alloc_memory_mib + c.memory_mib,
      alloc_disk_gib = n.alloc_disk_gib + c.disk_gib,
      generation = n.generation + 1
    FROM unnest(${names}::text[], ${sums.map((s) => s.vcpus)}::int[],
        ${sums.map((s) => s.memoryMib)}::bigint[], ${sums.map((s) => s.diskGib)}::bigint[])
      AS c(name, vcpus, memory_mib, disk_gib)
    WHERE n.name = c.name
      AND n.name = ANY(ARRAY(SELECT l.name FROM nodes l WHERE l.name = ANY(${names}::text[]) ORDER BY l.name FOR NO KEY UPDATE))
      AND n.state = 'READY'
      AND n.alloc_vcpus + c.vcpus <= greatest(0, floor(n.vcpus * n.cpu_ratio) - n.reserved_vcpus)
      AND n.alloc_memory_mib + c.memory_mib <= greatest(0, floor(n.memory_mib * n.memory_ratio) - n.reserved_memory_mib)
      AND n.alloc_disk_gib + c.disk_gib <= greatest(0, floor(n.disk_gib * n.disk_ratio) - n.reserved_disk_gib)
    RETURNING n.name, n.address`;
}

/**
 * Adds the claims to their nodes in one statement (claimUpdate). Throws
 * ClaimConflictError (the caller's transaction must roll back) when any node
 * refused or the statement lost a lock race. Returns the agent address of each
 * node claimed on, read by the claim (the node was READY).
 */
export async function claimResources(db: Db, claims: Claim[]): Promise<Map<string, string>> {
  const sums = sumClaimsByNode(claims);
  if (sums.length === 0) return new Map();
  const updated = await claimUpdate(db, sums).catch((err: unknown) => {
    throw isLockRace(err) ? new ClaimConflictError(sums.map((s) => s.node), { cause: err, lockRace: true }) : err;
  });
  if (updated.length !== sums.length) {
    const ok = new Set(updated.map((r) => r.name));
    throw new ClaimConflictError(sums.map((s) => s.node).filter((n) => !ok.has(n)));
  }
  return new Map(updated.map((r) => [r.name, r.address]));
}

/**
 * Gives a VM's claim back to its node, its use to its project, and its place
 * in its groups (group_members, written after the node and project rows).
 * Idempotent: only a VM still marked claimed releases anything. Returns the
 * node released from, or null.
 */
export async function releaseClaim(db: Db, vmId: string): Promise<string | null> {
  const [row] = await db<{ node: string }[]>`
    WITH vm AS (
      UPDATE vms SET claimed = false, updated_at = now()
      WHERE id = ${vmId} AND claimed
      RETURNING node, project, vcpus, memory_mib, disk_gib, groups
    ), p AS (${db.unsafe(RELEASE_QUOTA)}) ${db.unsafe(RELEASE_GROUP_MEMBERS)}
    UPDATE nodes n SET
      alloc_vcpus = n.alloc_vcpus - vm.vcpus,
      alloc_memory_mib = n.alloc_memory_mib - vm.memory_mib,
      alloc_disk_gib = n.alloc_disk_gib - vm.disk_gib,
      generation = n.generation + 1
    FROM vm WHERE n.name = vm.node
    RETURNING n.name AS node`;
  return row?.node ?? null;
}
