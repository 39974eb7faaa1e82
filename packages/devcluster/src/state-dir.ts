// Where the real host's VM files go. QEMU runs as its own user (Debian: libvirt-qemu), which
// must enter every directory above a disk: a mode-0700 mkdtemp under /tmp failed every VM with a
// disk ("Cannot access storage file ... (as uid:64055, gid:64055): Permission denied").
import { chmodSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Parent of the devcluster's per-run state dirs, when this user may create it (root). */
export const DEVCLUSTER_ROOT = "/var/lib/drover/devcluster";

export interface DevclusterDirs {
  /** The real host's DROVER_STATE_DIR: disks and seeds. */
  stateDir: string;
  /** Where to put base images for `--image`: QEMU can read them there. */
  imagesDir: string;
}

/** Directories QEMU may enter but nobody else may list (its files in them are 0600). */
const ENTER_ONLY = 0o711;
/** Base images are not secret; QEMU and the user's tools read them. */
const READABLE = 0o755;

/** DROVER_STATE_DIR if set, else a fresh dir under /var/lib/drover/devcluster, else under the system tmpdir. */
export function devclusterDirs(env: Record<string, string | undefined> = process.env, root = DEVCLUSTER_ROOT): DevclusterDirs {
  if (env.DROVER_STATE_DIR) {
    mkdirSync(env.DROVER_STATE_DIR, { recursive: true, mode: ENTER_ONLY });
    return { stateDir: env.DROVER_STATE_DIR, imagesDir: ensureDir(join(env.DROVER_STATE_DIR, "images"), READABLE) };
  }
  let parent = root;
  try {
    ensureDir(root, ENTER_ONLY);
  } catch {
    parent = tmpdir(); // not root: /tmp is 1777, so QEMU can enter a 0711 dir in it
  }
  const stateDir = mkdtempSync(join(parent, "state-"));
  chmodSync(stateDir, ENTER_ONLY); // mkdtemp makes it 0700
  return { stateDir, imagesDir: ensureDir(join(parent === root ? root : stateDir, "images"), READABLE) };
}

/** mkdir -p with `mode` for the directories it creates (the ones that exist keep theirs). */
function ensureDir(dir: string, mode: number): string {
  mkdirSync(dir, { recursive: true, mode });
  return dir;
}
