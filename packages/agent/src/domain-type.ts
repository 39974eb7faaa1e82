// Which libvirt domain type to define: hardware virtualisation when we can use it,
// software emulation otherwise. A host without /dev/kvm still runs VMs, slowly.
import { closeSync, constants, openSync } from "node:fs";

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
  return kvmUsable(kvmPath) ? "kvm" : "qemu";
}
