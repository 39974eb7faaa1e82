// The test guest (scripts/build-test-guest.sh): Debian's cloud kernel and a busybox initramfs.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type Image, ImageFormat, type VmSpec } from "@drover/proto";

export interface TestGuest {
  kernel: string;
  initrd: string;
  cmdline: string;
}

/** Builds the guest once (cached under /var/lib/drover/test-guest, or $DROVER_TEST_GUEST_DIR) and returns its files. */
export function testGuest(): TestGuest {
  const script = fileURLToPath(new URL("../../scripts/build-test-guest.sh", import.meta.url));
  const dir = execFileSync(script, [], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim().split("\n").pop()!;
  return { kernel: join(dir, "vmlinuz"), initrd: join(dir, "initrd.img"), cmdline: "console=ttyS0 quiet" };
}

/** Copies the guest's kernel and initrd into an agent's image directory: a spec names them there, never by host path. */
export function installGuest(guest: TestGuest, imageDir: string): void {
  mkdirSync(imageDir, { recursive: true, mode: 0o755 });
  copyFileSync(guest.kernel, join(imageDir, "vmlinuz"));
  copyFileSync(guest.initrd, join(imageDir, "initrd.img"));
}

/** The spec fields that boot the test guest (installed with installGuest) with shell user data. */
export function guestBoot(guest: TestGuest, userData: string): Partial<VmSpec> {
  return { kernel: "vmlinuz", initrd: "initrd.img", cmdline: guest.cmdline, userData };
}

/** The catalog image that boots the test guest: {@link guestImage}. */
export const GUEST_IMAGE = "drover-test-guest";

/**
 * The test guest as a catalog image: a 1 MiB raw disk (empty; the guest runs from its initrd) that
 * carries the guest's kernel, initrd and command line, so a VM names only the image. Writes the disk
 * into `imageDir` (where installGuest put the kernel and initrd) and returns the entry to register.
 */
export function guestImage(guest: TestGuest, imageDir: string): Image {
  const disk = Buffer.alloc(1 << 20);
  writeFileSync(join(imageDir, GUEST_IMAGE), disk);
  // The agent checks the kernel and initrd against these before first use, like the disk.
  const sha256Of = (file: string) => createHash("sha256").update(readFileSync(join(imageDir, file))).digest("hex");
  return {
    name: GUEST_IMAGE,
    format: ImageFormat.IMAGE_FORMAT_RAW,
    sizeBytes: disk.length,
    sha256: createHash("sha256").update(disk).digest("hex"),
    kernel: "vmlinuz",
    initrd: "initrd.img",
    cmdline: guest.cmdline,
    kernelSha256: sha256Of("vmlinuz"),
    initrdSha256: sha256Of("initrd.img"),
    createdAt: undefined,
  };
}

/** The spec fields that boot the test guest from its catalog image (guestImage, registered), with shell user data. */
export function imageBoot(userData: string): Partial<VmSpec> {
  return { image: GUEST_IMAGE, diskGib: 1, userData };
}

/** Runs busybox's ping from the host (the host has no ping of its own): whether `ip` answers within a few seconds. */
export function pings(ip: string): boolean {
  try {
    execFileSync("busybox", ["ping", "-c", "1", "-W", "2", ip], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The libvirt NAT network scripts/lib/setup.sh ensure_nat_network defines (DHCP on a private /24 on this machine). */
export const NAT_NETWORK = "drover-nat";

/** Defines and starts drover-nat when missing (as scripts/test.sh does), so the test runs on its own too. */
export function ensureNatNetwork(): void {
  const setup = fileURLToPath(new URL("../../scripts/lib/setup.sh", import.meta.url));
  execFileSync("bash", ["-c", `. ${JSON.stringify(setup)} && ensure_nat_network`], { stdio: ["ignore", "ignore", "inherit"] });
}
