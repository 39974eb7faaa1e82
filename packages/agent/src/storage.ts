// Per-VM files for real hypervisors: a qcow2 disk (optionally backed by a base
// image) and a cloud-init NoCloud seed ISO. The test driver needs neither.
//
// Who may read them: QEMU runs as its own user (Debian: libvirt-qemu), and libvirt's
// dynamic ownership (qemu.conf dynamic_ownership=1, the default) chowns a domain's
// files to that user while it runs and back afterwards. So the files can be 0600
// (a seed holds user_data, often secrets) as long as QEMU's user can *search* every
// directory above them: the state dirs are 0711 (enter, not list).
import { execFile } from "node:child_process";
import { access, chmod, constants, mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { VmSpec } from "@drover/proto";
import { networkConfig } from "./network-config.js";
import { consoleLogPath, rotatedConsoleLogs } from "./console-log.js";
import { type DomainPaths, guestHostname } from "./domain-xml.js";
import { BootFileUnavailableError, ToolMissingError, ValidationError } from "./errors.js";
import type { ResolvedImage } from "./images.js";
import { type QemuUser, describeOwnership, unsearchableDir } from "./qemu-user.js";

/** Disks and seeds: owner only (libvirt hands them to QEMU's user while the domain runs). */
export const FILE_MODE = 0o600;
/** State directories: QEMU's user may enter them to reach its files, nobody else may list them. */
export const DIR_MODE = 0o711;

const run = promisify(execFile);

export function diskPath(stateDir: string, vmId: string): string {
  return join(stateDir, "disks", `${vmId}.qcow2`);
}

export function seedPath(stateDir: string, vmId: string): string {
  return join(stateDir, "seeds", `${vmId}.iso`);
}

async function tool(cmd: string, args: string[], hint: string): Promise<string> {
  try {
    return (await run(cmd, args, { maxBuffer: 16 << 20 })).stdout;
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") throw new ToolMissingError(cmd, hint, { cause: err });
    // Unexpected: the client gets INTERNAL with an error id, the agent log this text.
    throw new Error(`${cmd} ${args.join(" ")} failed: ${(e.stderr || e.message).trim()}`, { cause: err });
  }
}

/** Creates the VM's disk (backed by `backing` when given) and seed as its spec asks, and the console log's directory; returns the paths to attach. */
export async function prepareStorage(stateDir: string, vmId: string, spec: VmSpec, backing?: ResolvedImage): Promise<DomainPaths> {
  // virtlogd (root) creates the log itself; the directory only has to exist.
  await mkdir(join(stateDir, "consoles"), { recursive: true, mode: DIR_MODE });
  const paths: DomainPaths = { consoleLog: consoleLogPath(stateDir, vmId) };
  if (spec.diskGib > 0) {
    const disk = diskPath(stateDir, vmId);
    await mkdir(join(stateDir, "disks"), { recursive: true, mode: DIR_MODE });
    const args = ["create", "-f", "qcow2"];
    // The backing file was resolved inside the image directory and verified (images.ts); its
    // format is the catalog's, spelled out so qemu-img never probes it.
    if (backing) args.push("-b", backing.path, "-F", backing.format);
    args.push(disk, `${spec.diskGib}G`);
    await tool("qemu-img", args, "install qemu-utils (Debian/Ubuntu) or qemu-img (Fedora)");
    await chmod(disk, FILE_MODE); // qemu-img leaves it 0644 (umask); it holds only empty qcow2 metadata until now
    paths.disk = disk;
  }
  if (spec.kernel) await checkBootFiles(spec);
  if (spec.userData || spec.staticIpv4) {
    paths.seed = await buildSeed(stateDir, vmId, spec);
  }
  return paths;
}

/** A kernel and initrd for direct boot must be on this host already, readable (libvirt hands them to QEMU). */
async function checkBootFiles(spec: VmSpec): Promise<void> {
  for (const [field, path] of [["kernel", spec.kernel], ["initrd", spec.initrd]] as const) {
    if (!path) continue;
    if (!path.startsWith("/")) throw new ValidationError(`spec.${field}`, `${JSON.stringify(path)} must be an absolute path on the host`);
    await access(path, constants.R_OK).catch((err: unknown) => {
      throw new BootFileUnavailableError(path, { cause: err });
    });
  }
}

/** A NoCloud seed: an ISO9660 volume labelled "cidata" holding user-data, meta-data and, for a static address, network-config. */
async function buildSeed(stateDir: string, vmId: string, spec: VmSpec): Promise<string> {
  const seed = seedPath(stateDir, vmId);
  await mkdir(join(stateDir, "seeds"), { recursive: true, mode: DIR_MODE });
  // Built in a 0700 scratch dir next to the seed, made 0600, then renamed into place: the
  // user data is never readable by others, not even for a moment.
  const dir = await mkdtemp(join(stateDir, "seeds", ".build-"));
  const iso = join(dir, "seed.iso");
  try {
    await writeFile(join(dir, "user-data"), spec.userData, { mode: FILE_MODE });
    await writeFile(join(dir, "meta-data"), `instance-id: ${vmId}\nlocal-hostname: ${guestHostname(vmId)}\n`, { mode: FILE_MODE });
    const files = [join(dir, "user-data"), join(dir, "meta-data")];
    if (spec.staticIpv4) {
      await writeFile(join(dir, "network-config"), networkConfig(vmId, spec.staticIpv4), { mode: FILE_MODE });
      files.push(join(dir, "network-config"));
    }
    const hint = "neither genisoimage nor xorriso is installed; install one of them to give VMs cloud-init user data";
    try {
      await tool("genisoimage", ["-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock", ...files], hint);
    } catch (err) {
      if (!(err instanceof Error && /not installed/.test(err.message))) throw err;
      await tool("xorriso", ["-as", "mkisofs", "-quiet", "-output", iso, "-volid", "cidata", "-joliet", "-rock", ...files], hint);
    }
    await chmod(iso, FILE_MODE);
    await rename(iso, seed);
    return seed;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Removes the VM's disk, seed and console log (with virtlogd's rotated copies); missing files are fine. */
export async function removeStorage(stateDir: string, vmId: string): Promise<void> {
  await rm(diskPath(stateDir, vmId), { force: true });
  await rm(seedPath(stateDir, vmId), { force: true });
  const log = consoleLogPath(stateDir, vmId);
  for (const path of [log, ...rotatedConsoleLogs(log)]) await rm(path, { force: true });
}

/**
 * Why QEMU could not reach files under stateDir, or undefined when it can: a directory on the way
 * that QEMU's user cannot enter (e.g. a mode-0700 mkdtemp) fails every VM with a disk or user data
 * with "Cannot access storage file ... Permission denied".
 */
export function stateDirProblem(stateDir: string, user: QemuUser): string | undefined {
  const dir = unsearchableDir(stateDir, user);
  if (!dir) return undefined;
  return (
    `QEMU runs as ${user.name}, which cannot enter ${dir} (${describeOwnership(dir)}), so VMs with a disk or user data ` +
    `will fail with "Permission denied" on their files in ${stateDir}. Fix: chmod 0711 ${dir}, or set DROVER_STATE_DIR to a directory QEMU can reach (default /var/lib/drover)`
  );
}
