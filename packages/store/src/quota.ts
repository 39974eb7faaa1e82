// Project quotas, held like node claims: one conditional UPDATE adds a
// create's usage to its project only if the result stays within every
// limit, in the same statement or transaction as the node claims, so no
// interleaving of creates on any number of replicas takes a project over.
import type { Db } from "./db.js";
import { QuotaExceededError } from "./errors.js";
import { getProject } from "./projects.js";

/** What one create adds to its project. */
export interface ProjectUse {
  project: string;
  vcpus: number;
  memoryMib: number;
  diskGib: number;
  vms: number;
}

/** Sums uses per project, sorted by name so concurrent writers lock project rows in one order. */
export function sumUseByProject(uses: ProjectUse[]): ProjectUse[] {
  const by = new Map<string, ProjectUse>();
  for (const u of uses) {
    const s = by.get(u.project) ?? { project: u.project, vcpus: 0, memoryMib: 0, diskGib: 0, vms: 0 };
    s.vcpus += u.vcpus;
    s.memoryMib += u.memoryMib;
    s.diskGib += u.diskGib;
    s.vms += u.vms;
    by.set(u.project, s);
  }
  return [...by.values()].sort((a, b) => (a.project < b.project ? -1 : 1));
}

/** The conditional UPDATE (a fragment) adding summed uses to their projects; returns the projects it updated. */
// Lock order: node rows first (by name), then project rows, as releaseClaim and the
// transaction path take them; afterClaims makes the one-statement commit follow it too.
export function quotaUpdate(db: Db, sums: ProjectUse[], afterClaims = false) {
  return db<{ name: string }[]>`
    UPDATE projects p SET
      used_vcpus = p.used_vcpus + u.vcpus,
      used_memory_mib = p.used_memory_mib + u.memory_mib,
      used_disk_gib = p.used_disk_gib + u.disk_gib,
      used_vms = p.used_vms + u.vms
    FROM (
      SELECT * FROM unnest(${sums.map((s) => s.project)}::text[], ${sums.map((s) => s.vcpus)}::int[],
        ${sums.map((s) => s.memoryMib)}::bigint[], ${sums.map((s) => s.diskGib)}::bigint[], ${sums.map((s) => s.vms)}::int[])
        AS t(name, vcpus, memory_mib, disk_gib, vms)
      ORDER BY name
    ) u
    WHERE p.name = u.name
      ${afterClaims ? db`AND (SELECT count(*) FROM c) >= 0` : db``}
      AND (p.quota_vcpus IS NULL OR p.used_vcpus + u.vcpus <= p.quota_vcpus)
      AND (p.quota_memory_mib IS NULL OR p.used_memory_mib + u.memory_mib <= p.quota_memory_mib)
      AND (p.quota_disk_gib IS NULL OR p.used_disk_gib + u.disk_gib <= p.quota_disk_gib)
      AND (p.quota_vms IS NULL OR p.used_vms + u.vms <= p.quota_vms)
    RETURNING p.name`;
}

/** Adds the uses to their projects in one statement; throws QuotaExceededError (roll back) on a refusal. */
export async function claimQuota(db: Db, uses: ProjectUse[]): Promise<void> {
  const sums = sumUseByProject(uses);
  if (sums.length === 0) return;
  const updated = new Set((await quotaUpdate(db, sums)).map((r) => r.name));
  const refused = sums.find((s) => !updated.has(s.project));
  if (refused) throw await quotaExceeded(db, refused);
}

/**
 * The error for a refused use, naming the first limit it breaks and the usage
 * then (read after the refusal, so the numbers may have moved since).
 */
export async function quotaExceeded(db: Db, use: ProjectUse, options?: ErrorOptions): Promise<QuotaExceededError> {
  const p = await getProject(db, use.project);
  if (!p) return new QuotaExceededError(use.project, "project", 0, 0, 0, options);
  const checks = [
    ["vcpus", p.quota.vcpus, p.used.vcpus, use.vcpus],
    ["memory_mib", p.quota.memoryMib, p.used.memoryMib, use.memoryMib],
    ["disk_gib", p.quota.diskGib, p.used.diskGib, use.diskGib],
    ["vms", p.quota.vms, p.usedVms, use.vms],
  ] as const;
  const broken = checks.find(([, limit, used, add]) => limit !== null && used + add > limit) ?? checks[0];
  const [what, limit, used, add] = broken;
  return new QuotaExceededError(use.project, what, limit ?? 0, used, add, options);
}

/** Gives a VM's use back to its project: part of releaseClaim's statement (a CTE over `vm`). */
export const RELEASE_QUOTA = `
  UPDATE projects p SET
    used_vcpus = p.used_vcpus - vm.vcpus, used_memory_mib = p.used_memory_mib - vm.memory_mib,
    used_disk_gib = p.used_disk_gib - vm.disk_gib, used_vms = p.used_vms - 1
  FROM vm WHERE p.name = vm.project`;

/**
 * Takes a VM's use again after releaseClaim in the same transaction (a retry
 * on another node): the project row is locked since the release, so nothing
 * took the room meanwhile and no check is needed.
 */
export async function retakeQuota(db: Db, vmId: string): Promise<void> {
  await db`
    UPDATE projects p SET
      used_vcpus = p.used_vcpus + v.vcpus, used_memory_mib = p.used_memory_mib + v.memory_mib,
      used_disk_gib = p.used_disk_gib + v.disk_gib, used_vms = p.used_vms + 1
    FROM vms v WHERE v.id = ${vmId} AND v.claimed AND p.name = v.project`;
}
