// Base images: a catalog name resolves to a file in the agent's image directory, and only there.
// A name is never a path; the resolved file's real path (symlinks followed) must still be inside
// the directory's real path, so a symlink planted in it cannot point QEMU at /etc/shadow or at
// another VM's disk. Before first use the file's sha256 must match the catalog's (cached by
// path, size and mtime, so a changed file is checked again), and so must the image's own kernel's
// and initrd's.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { type Image, ImageFormat, imageFormatName } from "@drover/proto";
import { ImageMismatchError, ImageUnavailableError, ValidationError } from "./errors.js";

/** Catalog image names (the scheduler enforces the same pattern). */
export const IMAGE_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const SHA256 = /^[0-9a-f]{64}$/;

/** What qemu-img is told the backing file is (-F): never probed. */
export type BackingFormat = "qcow2" | "raw";

export interface ResolvedImage {
  /** Real path inside the image directory. */
  path: string;
  format: BackingFormat;
}

function formatOf(format: ImageFormat): BackingFormat {
  const name = imageFormatName(format);
  if (!name) throw new ValidationError("image.format", "must be QCOW2 or RAW");
  return name;
}

/** Checks the catalog entry the scheduler sent, before touching the file system. */
export function checkImageRef(specImage: string, image: Image | undefined): Image {
  if (!image) throw new ValidationError("image", `is required with spec.image ${JSON.stringify(specImage.slice(0, 80))}: the agent backs disks only with catalog images`);
  if (image.name !== specImage) throw new ValidationError("image.name", `must equal spec.image (${JSON.stringify(specImage.slice(0, 80))})`);
  if (!IMAGE_NAME.test(image.name)) {
    throw new ValidationError("spec.image", `must be a catalog image name ([a-z0-9][a-z0-9._-]{0,62}), not a path: got ${JSON.stringify(image.name.slice(0, 80))}`);
  }
  if (image.name === "." || image.name === "..") throw new ValidationError("spec.image", "must be a catalog image name");
  if (!SHA256.test(image.sha256)) throw new ValidationError("image.sha256", "must be 64 lowercase hex digits");
  formatOf(image.format);
  return image;
}

/** The real path of the image's file, which must lie inside imageDir (after following symlinks). */
export async function resolveImage(imageDir: string, image: Image): Promise<ResolvedImage> {
  const format = formatOf(image.format);
  const unavailable = (why: string, cause?: unknown) => new ImageUnavailableError(image.name, imageDir, why, cause === undefined ? undefined : { cause });
  let dir: string;
  let path: string;
  try {
    dir = await realpath(imageDir);
  } catch (err) {
    throw unavailable("the image directory does not exist", err);
  }
  try {
    path = await realpath(join(dir, image.name));
  } catch (err) {
    throw unavailable("no such file", err);
  }
  if (!path.startsWith(dir + sep)) throw unavailable(`it resolves to ${path}, outside the image directory; symlinks may not leave it`);
  const st = await stat(path);
  if (!st.isFile()) throw unavailable("it is not a regular file");
  return { path, format };
}

/**
 * A direct-boot kernel or initrd named by the spec: a file name inside imageDir, resolved like an
 * image (real path inside the directory, symlinks may not leave it), so a VM spec never names a host path.
 */
export async function resolveBootFile(imageDir: string, name: string): Promise<string> {
  if (!IMAGE_NAME.test(name) || name === "." || name === "..") throw new ValidationError("spec.kernel", `must be a file name in the image directory, not a path: got ${JSON.stringify(name.slice(0, 80))}`);
  return (await resolveImage(imageDir, { name, format: ImageFormat.IMAGE_FORMAT_RAW, sizeBytes: 0, sha256: "", kernel: "", initrd: "", cmdline: "", kernelSha256: "", initrdSha256: "" })).path;
}

const verified = new Map<string, string>();

/** Throws ImageMismatchError unless the file has the catalog's size and sha256; a match is remembered for this size and mtime. */
export async function verifyImage(resolved: ResolvedImage, image: Image): Promise<void> {
  await verifyFile(resolved.path, image.sizeBytes, image.sha256, (why) => new ImageMismatchError(image.name, why));
}

/**
 * The image's own kernel and initrd (already resolved to kernelPath, initrdPath) against the sha256s
 * the catalog registered for them, checked and cached exactly like the disk's file. An entry with a
 * boot file but no sha256 for it (registered before they existed) is refused: nothing vouches for it.
 */
export async function verifyImageBootFiles(image: Image, kernelPath: string, initrdPath: string): Promise<void> {
  const files = [
    ["kernel", image.kernel, kernelPath, image.kernelSha256],
    ["initrd", image.initrd, initrdPath, image.initrdSha256],
  ] as const;
  for (const [file, name, path, sha256] of files) {
    if (!name) continue;
    if (!SHA256.test(sha256)) throw new ImageMismatchError(image.name, `has no ${file}_sha256 registered for its ${file} ${name}`);
    await verifyFile(path, 0, sha256, (why) => new ImageMismatchError(image.name, `${file} ${name} ${why}`));
  }
}

async function verifyFile(path: string, sizeBytes: number, sha256: string, mismatch: (why: string) => Error): Promise<void> {
  const st = await stat(path);
  const key = `${path}\0${st.size}\0${st.mtimeMs}`;
  if (verified.get(key) === sha256) return;
  if (sizeBytes > 0 && st.size !== sizeBytes) throw mismatch(`is ${st.size} bytes on this node, the catalog says ${sizeBytes}`);
  const actual = await sha256Of(path);
  if (actual !== sha256) throw mismatch(`has sha256 ${actual} on this node, the catalog says ${sha256}`);
  verified.set(key, sha256);
}

function sha256Of(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path)
      .on("data", (chunk) => hash.update(chunk))
      .on("error", reject)
      .on("end", () => resolve(hash.digest("hex")));
  });
}
