// The image and network catalogs (migration 010). Names are the keys; the scheduler validates them.
import type { Db } from "./db.js";

export type ImageFormatName = "qcow2" | "raw";

export interface CatalogImage {
  name: string;
  format: ImageFormatName;
  sizeBytes: number;
  sha256: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  /** '' without kernel (initrd); entries made before migration 023 may have '' with one. */
  kernelSha256: string;
  initrdSha256: string;
  createdAt: Date;
}

/** A libvirt network, or a Linux bridge that exists on every node (migration 021). */
export type NetworkTypeName = "libvirt" | "bridge";

export interface CatalogNetwork {
  name: string;
  description: string;
  type: NetworkTypeName;
  createdAt: Date;
}

interface NetworkRow {
  name: string;
  description: string;
  type: NetworkTypeName;
  created_at: Date;
}

const networkOf = (r: NetworkRow): CatalogNetwork => ({ name: r.name, description: r.description, type: r.type, createdAt: r.created_at });

interface ImageRow {
  name: string;
  format: ImageFormatName;
  size_bytes: string | number;
  sha256: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  kernel_sha256: string;
  initrd_sha256: string;
  created_at: Date;
}

const imageOf = (r: ImageRow): CatalogImage => ({
  name: r.name,
  format: r.format,
  sizeBytes: Number(r.size_bytes),
  sha256: r.sha256,
  kernel: r.kernel,
  initrd: r.initrd,
  cmdline: r.cmdline,
  kernelSha256: r.kernel_sha256,
  initrdSha256: r.initrd_sha256,
  createdAt: r.created_at,
});

/** Inserts an image; undefined when the name is taken. */
export async function insertImage(db: Db, image: Omit<CatalogImage, "createdAt">): Promise<CatalogImage | undefined> {
  const [row] = await db<ImageRow[]>`
    INSERT INTO images (name, format, size_bytes, sha256, kernel, initrd, cmdline, kernel_sha256, initrd_sha256)
    VALUES (${image.name}, ${image.format}, ${image.sizeBytes}, ${image.sha256}, ${image.kernel}, ${image.initrd}, ${image.cmdline},
            ${image.kernelSha256}, ${image.initrdSha256})
    ON CONFLICT (name) DO NOTHING RETURNING *`;
  return row && imageOf(row);
}

export async function getImage(db: Db, name: string): Promise<CatalogImage | undefined> {
  const [row] = await db<ImageRow[]>`SELECT * FROM images WHERE name = ${name}`;
  return row && imageOf(row);
}

/** The catalog entries of these names, by name, in one statement (none for no name): a dispatch pass's VMs share them. */
export async function getImagesNamed(db: Db, names: string[]): Promise<Map<string, CatalogImage>> {
  if (names.length === 0) return new Map();
  const rows = await db<ImageRow[]>`SELECT * FROM images WHERE name = ANY(${names}::text[])`;
  return new Map(rows.map((r) => [r.name, imageOf(r)]));
}

export async function listImages(db: Db): Promise<CatalogImage[]> {
  return (await db<ImageRow[]>`SELECT * FROM images ORDER BY name`).map(imageOf);
}

/** The images of these names that exist, by name. */
export async function imagesNamed(db: Db, names: string[]): Promise<Map<string, CatalogImage>> {
  if (names.length === 0) return new Map();
  const rows = await db<ImageRow[]>`SELECT * FROM images WHERE name = ANY(${names}::text[])`;
  return new Map(rows.map((r) => [r.name, imageOf(r)]));
}

/** How many VMs that are not DELETED use the image. */
export async function vmsUsingImage(db: Db, name: string): Promise<number> {
  const [row] = await db<{ n: number }[]>`SELECT count(*)::int AS n FROM vms WHERE spec->>'image' = ${name} AND state <> 'DELETED'`;
  return row!.n;
}

/** Deletes the image unless a live VM uses it (checked in the same statement); "missing", "in-use" or "deleted". */
export async function deleteImage(db: Db, name: string): Promise<"missing" | "in-use" | "deleted"> {
  const [row] = await db<{ deleted: boolean; used: boolean }[]>`
    WITH used AS (SELECT EXISTS (SELECT 1 FROM vms WHERE spec->>'image' = ${name} AND state <> 'DELETED') AS used),
         gone AS (DELETE FROM images WHERE name = ${name} AND NOT (SELECT used FROM used) RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM gone) AS deleted, (SELECT used FROM used) AS used`;
  if (row!.deleted) return "deleted";
  if (row!.used && (await getImage(db, name))) return "in-use";
  return "missing";
}

export async function insertNetwork(db: Db, network: Omit<CatalogNetwork, "createdAt">): Promise<CatalogNetwork | undefined> {
  const [row] = await db<NetworkRow[]>`
    INSERT INTO networks (name, description, type) VALUES (${network.name}, ${network.description}, ${network.type})
    ON CONFLICT (name) DO NOTHING RETURNING *`;
  return row && networkOf(row);
}

export async function getNetwork(db: Db, name: string): Promise<CatalogNetwork | undefined> {
  const [row] = await db<NetworkRow[]>`SELECT * FROM networks WHERE name = ${name}`;
  return row && networkOf(row);
}

/** As getImagesNamed, for networks. */
export async function getNetworksNamed(db: Db, names: string[]): Promise<Map<string, CatalogNetwork>> {
  if (names.length === 0) return new Map();
  const rows = await db<NetworkRow[]>`SELECT * FROM networks WHERE name = ANY(${names}::text[])`;
  return new Map(rows.map((r) => [r.name, networkOf(r)]));
}

export async function listNetworks(db: Db): Promise<CatalogNetwork[]> {
  return (await db<NetworkRow[]>`SELECT * FROM networks ORDER BY name`).map(networkOf);
}

/** The names among these that are registered networks. */
export async function networksNamed(db: Db, names: string[]): Promise<Set<string>> {
  if (names.length === 0) return new Set();
  const rows = await db<{ name: string }[]>`SELECT name FROM networks WHERE name = ANY(${names}::text[])`;
  return new Set(rows.map((r) => r.name));
}

/** Deletes the network unless a live VM uses it; "missing", "in-use" or "deleted". */
export async function deleteNetwork(db: Db, name: string): Promise<"missing" | "in-use" | "deleted"> {
  const [row] = await db<{ deleted: boolean; used: boolean; exists: boolean }[]>`
    WITH used AS (SELECT EXISTS (SELECT 1 FROM vms WHERE spec->>'network' = ${name} AND state <> 'DELETED') AS used),
         gone AS (DELETE FROM networks WHERE name = ${name} AND NOT (SELECT used FROM used) RETURNING 1)
    SELECT EXISTS (SELECT 1 FROM gone) AS deleted, (SELECT used FROM used) AS used,
           EXISTS (SELECT 1 FROM networks WHERE name = ${name}) AS exists`;
  if (row!.deleted) return "deleted";
  return row!.used && row!.exists ? "in-use" : "missing";
}
