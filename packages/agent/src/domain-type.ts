// Which libvirt domain type to define: hardware virtualisation when we can use it,
// software emulation otherwise. A host without /dev/kvm still runs VMs, slowly.
import { closeSync, constants, openSync, readFileSync, statSync } from "node:fs";

export type DomainType = "test" | "kvm" | "qemu";

export function isTestUri(uri: string): boolean {
  return uri.startsWith("test:");
}

/** True when `path` opens read-write (what qemu needs to use KVM). */
export function kvmUsable(path = "/dev/kvm"): boolean {
  try {
    closeSync(openSync(path, constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}

export function pickDomainType(uri: string, kvmPath = "/dev/kvm"): DomainType {
  if (isTestUri(uri)) return "test";
  return kvmUsable(kvmPath) && qemuMayOpen(uri, kvmPath) ? "kvm" : "qemu";
}

/**
 * Whether QEMU itself can open the device, not just the agent: under qemu:///system libvirt runs
 * QEMU as an unprivileged user (Debian: libvirt-qemu, in group kvm), so a root-only /dev/kvm
 * (seen here: crw------- root root) opens for a root agent and still fails every VM. Trusted when
 * the device is world read-write, group read-write for group "kvm", or QEMU runs as root.
 */
function qemuMayOpen(uri: string, kvmPath: string): boolean {
  if (!uri.includes("/system")) return true; // qemu:///session: QEMU runs as the agent's own user
  const { mode, gid } = statSync(kvmPath);
  if ((mode & 0o006) === 0o006) return true;
  if ((mode & 0o060) === 0o060 && groupName(gid) === "kvm") return true;
  return qemuRunsAsRoot();
}

function groupName(gid: number): string | undefined {
  const line = readOr("/etc/group").split("\n").find((l) => l.split(":")[2] === String(gid));
  return line?.split(":")[0];
}

function qemuRunsAsRoot(): boolean {
  return /^\s*user\s*=\s*"(root|\+0)"/m.test(readOr("/etc/libvirt/qemu.conf"));
}

function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * True when a failed start says QEMU could not use KVM. /dev/kvm can open for the agent and still be
 * closed to the user QEMU runs as (qemu:///system runs it as libvirt-qemu), e.g. a root-only
 * device: "Could not access KVM kernel module: Permission denied". The agent then falls back to
 * software emulation rather than failing every VM.
 */
export function isKvmUnavailable(message: string): boolean {
  return /Could not access KVM kernel module|failed to initialize KVM|KVM is not (available|supported)|requires KVM, but it is not available|kvm.*(Permission denied|No such file)/i.test(message);
}
