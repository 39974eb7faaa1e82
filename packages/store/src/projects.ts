// Projects: who owns VMs, with quotas and what their claimed VMs use.
import type { Db } from "./db.js";
import type { Resources } from "./domain.js";

/** Limits of a project; null means no limit. */
export interface Quota {
  vcpus: number | null;
  memoryMib: number | null;
  diskGib: number | null;
  vms: number | null;
}

export interface Project {
  name: string;
  quota: Quota;
  /** Sum over the project's VMs whose claim is held. */
  used: Resources;
  usedVms: number;
  createdAt: Date;
}

interface ProjectRow {
  name: string;
  quota_vcpus: number | null;
  quota_memory_mib: number | null;
  quota_disk_gib: number | null;
  quota_vms: number | null;
  used_vcpus: number;
  used_memory_mib: number;
  used_disk_gib: number;
  used_vms: number;
  created_at: Date;
}

const fromRow = (r: ProjectRow): Project => ({
  name: r.name,
  quota: { vcpus: r.quota_vcpus, memoryMib: r.quota_memory_mib, diskGib: r.quota_disk_gib, vms: r.quota_vms },
  used: { vcpus: r.used_vcpus, memoryMib: r.used_memory_mib, diskGib: r.used_disk_gib },
  usedVms: r.used_vms,
  createdAt: r.created_at,
});

/** Creates a project; null when one by that name exists. */
export async function insertProject(db: Db, name: string, q: Quota): Promise<Project | null> {
  const [row] = await db<ProjectRow[]>`
    INSERT INTO projects (name, quota_vcpus, quota_memory_mib, quota_disk_gib, quota_vms)
    VALUES (${name}, ${q.vcpus}, ${q.memoryMib}, ${q.diskGib}, ${q.vms})
    ON CONFLICT (name) DO NOTHING RETURNING *`;
  return row ? fromRow(row) : null;
}

export async function getProject(db: Db, name: string): Promise<Project | null> {
  const [row] = await db<ProjectRow[]>`SELECT * FROM projects WHERE name = ${name}`;
  return row ? fromRow(row) : null;
}

export async function listProjects(db: Db): Promise<Project[]> {
  const rows = await db<ProjectRow[]>`SELECT * FROM projects ORDER BY name`;
  return rows.map(fromRow);
}

/** Replaces a project's quota; null if there is no such project. */
export async function setQuota(db: Db, name: string, q: Quota): Promise<Project | null> {
  const [row] = await db<ProjectRow[]>`
    UPDATE projects SET quota_vcpus = ${q.vcpus}, quota_memory_mib = ${q.memoryMib},
      quota_disk_gib = ${q.diskGib}, quota_vms = ${q.vms}
    WHERE name = ${name} RETURNING *`;
  return row ? fromRow(row) : null;
}
