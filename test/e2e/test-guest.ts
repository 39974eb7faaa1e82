// The test guest (scripts/build-test-guest.sh): Debian's cloud kernel and a busybox initramfs.
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { VmSpec } from "@drover/proto";

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

/** The libvirt NAT network scripts/lib/setup.sh ensure_nat_network defines (DHCP on a private /24 on this machine). */
export const NAT_NETWORK = "drover-nat";

/** Defines and starts drover-nat when missing (as scripts/test.sh does), so the test runs on its own too. */
export function ensureNatNetwork(): void {
  const setup = fileURLToPath(new URL("../../scripts/lib/setup.sh", import.meta.url));
  execFileSync("bash", ["-c", `. ${JSON.stringify(setup)} && ensure_nat_network`], { stdio: ["ignore", "ignore", "inherit"] });
}
