import type { Db } from "./db.js";
import { ClaimConflictError } from "./errors.js";

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
 * nodes, returning the names of the nodes it updated: a fragment, run by
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
  // Sorted by node name, so concurrent batches lock rows in one order and cannot deadlock.
  return db<{ name: string }[]>`
    UPDATE nodes n SET
      alloc_vcpus = n.alloc_vcpus + c.vcpus,
      alloc_memory_mib = n.alloc_memory_mib + c.memory_mib,
      alloc_disk_gib = n.alloc_disk_gib + c.disk_gib,
      generation = n.generation + 1
    FROM (
      SELECT * FROM unnest(${sums.map((s) => s.node)}::text[], ${sums.map((s) => s.vcpus)}::int[],
        ${sums.map((s) => s.memoryMib)}::bigint[], ${sums.map((s) => s.diskGib)}::bigint[])
        AS t(name, vcpus, memory_mib, disk_gib)
      ORDER BY name
    ) c
    WHERE n.name = c.name
      AND n.state = 'READY'
      AND n.alloc_vcpus + c.vcpus <= greatest(0, floor(n.vcpus * n.cpu_ratio) - n.reserved_vcpus)
      AND n.alloc_memory_mib + c.memory_mib <= greatest(0, floor(n.memory_mib * n.memory_ratio) - n.reserved_memory_mib)
      AND n.alloc_disk_gib + c.disk_gib <= greatest(0, floor(n.disk_gib * n.disk_ratio) - n.reserved_disk_gib)
    RETURNING n.name`;
}

/**
 * Adds the claims to their nodes in one statement (claimUpdate). Throws
 * ClaimConflictError (the caller's transaction must roll back) when any node
 * refused.
 */
export async function claimResources(db: Db, claims: Claim[]): Promise<void> {
  const sums = sumClaimsByNode(claims);
  if (sums.length === 0) return;
  const updated = await claimUpdate(db, sums);
  if (updated.length !== sums.length) {
    const ok = new Set(updated.map((r) => r.name));
    throw new ClaimConflictError(sums.map((s) => s.node).filter((n) => !ok.has(n)));
  }
}

/**
 * Gives a VM's claim back to its node. Idempotent: only a VM still marked
 * claimed releases anything. Returns the node released from, or null.
 */
export async function releaseClaim(db: Db, vmId: string): Promise<string | null> {
  const [row] = await db<{ node: string }[]>`
    WITH vm AS (
      UPDATE vms SET claimed = false, updated_at = now()
      WHERE id = ${vmId} AND claimed
      RETURNING node, vcpus, memory_mib, disk_gib
    )
    UPDATE nodes n SET
      alloc_vcpus = n.alloc_vcpus - vm.vcpus,
      alloc_memory_mib = n.alloc_memory_mib - vm.memory_mib,
      alloc_disk_gib = n.alloc_disk_gib - vm.disk_gib,
      generation = n.generation + 1
    FROM vm WHERE n.name = vm.node
    RETURNING n.name AS node`;
  return row?.node ?? null;
}
