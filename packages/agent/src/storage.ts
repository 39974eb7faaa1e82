// Per-VM files for real hypervisors: a qcow2 disk (optionally backed by a base
// image) and a cloud-init NoCloud seed ISO. The test driver needs neither.
import { execFile } from "node:child_process";
import { access, constants, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { VmSpec } from "@drover/proto";
import type { DomainPaths } from "./domain-xml.js";
import { ImageUnavailableError, ToolMissingError, ValidationError } from "./errors.js";

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

/** Creates the VM's disk and seed as its spec asks; returns the paths to attach. */
export async function prepareStorage(stateDir: string, vmId: string, spec: VmSpec): Promise<DomainPaths> {
  const paths: DomainPaths = {};
  if (spec.diskGib > 0) {
    const disk = diskPath(stateDir, vmId);
    await mkdir(join(stateDir, "disks"), { recursive: true });
    const args = ["create", "-f", "qcow2"];
    if (spec.image) {
      if (/^[a-z]+:\/\//i.test(spec.image)) {
        throw new ValidationError("image", `${JSON.stringify(spec.image)} is a URL; the agent only uses images already on the host: give a local path`);
      }
      if (!spec.image.startsWith("/")) throw new ValidationError("image", `${JSON.stringify(spec.image)} must be an absolute path on the host`);
      await access(spec.image, constants.R_OK).catch((err: unknown) => {
        throw new ImageUnavailableError(spec.image, { cause: err });
      });
      // qcow2 overlays need the backing format spelled out (qemu refuses to probe it).
      const info = JSON.parse(await tool("qemu-img", ["info", "--output=json", spec.image], "install qemu-utils")) as { format?: string };
      args.push("-b", spec.image, "-F", info.format === "qcow2" ? "qcow2" : "raw");
    }
    args.push(disk, `${spec.diskGib}G`);
    await tool("qemu-img", args, "install qemu-utils (Debian/Ubuntu) or qemu-img (Fedora)");
    paths.disk = disk;
  }
  if (spec.userData) {
    paths.seed = await buildSeed(stateDir, vmId, spec.userData);
  }
  return paths;
}

/** A NoCloud seed: an ISO9660 volume labelled "cidata" holding user-data and meta-data. */
async function buildSeed(stateDir: string, vmId: string, userData: string): Promise<string> {
  const seed = seedPath(stateDir, vmId);
  await mkdir(join(stateDir, "seeds"), { recursive: true });
  const dir = await mkdtemp(join(tmpdir(), "drover-seed-"));
  try {
    await writeFile(join(dir, "user-data"), userData);
    await writeFile(join(dir, "meta-data"), `instance-id: ${vmId}\nlocal-hostname: ${vmId.slice(0, 8)}\n`);
    const files = [join(dir, "user-data"), join(dir, "meta-data")];
    const hint = "neither genisoimage nor xorriso is installed; install one of them to give VMs cloud-init user data";
    try {
      await tool("genisoimage", ["-quiet", "-output", seed, "-volid", "cidata", "-joliet", "-rock", ...files], hint);
    } catch (err) {
      if (!(err instanceof Error && /not installed/.test(err.message))) throw err;
      await tool("xorriso", ["-as", "mkisofs", "-quiet", "-output", seed, "-volid", "cidata", "-joliet", "-rock", ...files], hint);
    }
    return seed;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Removes the VM's disk and seed; missing files are fine. */
export async function removeStorage(stateDir: string, vmId: string): Promise<void> {
  await rm(diskPath(stateDir, vmId), { force: true });
  await rm(seedPath(stateDir, vmId), { force: true });
}
