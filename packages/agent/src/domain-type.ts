// Which libvirt domain type to define, and why: hardware virtualisation when QEMU can use it,
// software emulation otherwise. A host without /dev/kvm still runs VMs, slowly.
import { closeSync, constants, existsSync, openSync, statSync } from "node:fs";
import { describeOwnership, groupNames, mayAccess, qemuUser } from "./qemu-user.js";

export type DomainType = "test" | "kvm" | "qemu";

export interface DomainTypeChoice {
  type: DomainType;
  /** Why this type, in one sentence a person can act on. */
  reason: string;
  /** Set when the host has KVM but QEMU cannot use it: the commands (as root) that make it usable. */
  fix?: string;
}

export function isTestUri(uri: string): boolean {
  return uri.startsWith("test:");
}

/** True when `path` opens read-write for this process (what qemu needs to use KVM). */
export function kvmUsable(path = "/dev/kvm"): boolean {
  try {
    closeSync(openSync(path, constants.O_RDWR));
    return true;
  } catch {
    return false;
  }
}

export function pickDomainType(uri: string, kvmPath = "/dev/kvm", sysModules = "/sys/module"): DomainType {
  return chooseDomainType(uri, kvmPath, undefined, sysModules).type;
}

/**
 * Under qemu:///system libvirt runs QEMU as an unprivileged user (Debian: libvirt-qemu, in group
 * kvm), so what counts is whether that user can open the device, not the agent. A root-only
 * /dev/kvm (crw------- root root: no udev rule ran, as in many containers) opens for a root agent
 * and still fails every VM; worse, libvirtd 9.0 then re-probes QEMU on every define, about 35 s
 * each (measured in docs/benchmarks.md), even for domains of type qemu.
 */
export function chooseDomainType(uri: string, kvmPath = "/dev/kvm", qemuConf?: string, sysModules = "/sys/module"): DomainTypeChoice {
  if (isTestUri(uri)) return { type: "test", reason: "libvirt test driver: a simulated host, no QEMU" };
  if (!existsSync(kvmPath)) {
    return { type: "qemu", reason: `no ${kvmPath} on this host (no hardware virtualisation, or the kvm module is not loaded): software emulation` };
  }
  if (isPvmOnly(sysModules)) {
    return {
      type: "qemu",
      reason:
        `${kvmPath} is served by kvm_pvm (no kvm_intel or kvm_amd: no hardware virtualisation), which runs only PVM-enabled guest kernels ` +
        `and emulates firmware and early boot one instruction at a time (a stock kernel did not print a line in 200 s): software emulation`,
    };
  }
  const user = uri.includes("/system") ? qemuUser(qemuConf) : undefined;
  if (!user) {
    // qemu:///session runs QEMU as the agent's own user; an unknown QEMU user leaves only this check.
    return kvmUsable(kvmPath)
      ? { type: "kvm", reason: `${kvmPath} opens read-write` }
      : { type: "qemu", reason: `${kvmPath} is ${describeOwnership(kvmPath)} and does not open read-write for this agent: software emulation` };
  }
  const st = statSync(kvmPath);
  if (st.isCharacterDevice() || st.isFile() ? mayAccess(st, user, 6) : false) {
    return { type: "kvm", reason: `${kvmPath} (${describeOwnership(kvmPath)}) is usable by QEMU's user ${user.name}` };
  }
  return {
    type: "qemu",
    reason:
      `${kvmPath} is ${describeOwnership(kvmPath)} and QEMU runs as ${user.name} (groups ${groupNames(user.gids).join(", ")}), ` +
      `which cannot open it: software emulation, and libvirtd may re-probe QEMU on every domain start (tens of seconds each)`,
    fix: kvmFix(kvmPath, user.name, groupNames(user.gids).includes("kvm")),
  };
}

/**
 * kvm_pvm (pagetable-based virtual machine) gives /dev/kvm on hosts without VT-x/AMD-V, e.g. inside
 * another VM; measured here, SeaBIOS then ran a memset at ~80k bytes/s and Debian's cloud kernel
 * never started, while software emulation boots it in seconds (docs/benchmarks.md).
 */
export function isPvmOnly(sysModules = "/sys/module"): boolean {
  return existsSync(`${sysModules}/kvm_pvm`) && !existsSync(`${sysModules}/kvm_intel`) && !existsSync(`${sysModules}/kvm_amd`);
}

/** What the distribution's udev rule (KERNEL=="kvm", GROUP="kvm", MODE="0660") would have done. */
function kvmFix(kvmPath: string, user: string, inKvmGroup: boolean): string {
  const steps = [
    "getent group kvm >/dev/null || groupadd --system kvm",
    ...(inKvmGroup ? [] : [`usermod -aG kvm ${user}`]),
    `chgrp kvm ${kvmPath}`,
    `chmod 0660 ${kvmPath}`,
  ];
  return `${steps.join(" && ")} (as root; scripts/cluster.sh and scripts/test.sh do this), then restart the agent`;
}

/**
 * True when a failed start says QEMU could not use KVM. /dev/kvm can look usable and still be
 * closed to QEMU (e.g. a device node QEMU's user cannot open after all): "Could not access KVM
 * kernel module: Permission denied"; on a host without KVM libvirt refuses the define: "Emulator
 * '/usr/bin/qemu-system-x86_64' does not support virt type 'kvm'". The agent then falls back to software emulation rather than
 * failing every VM.
 */
export function isKvmUnavailable(message: string): boolean {
  return /Could not access KVM kernel module|failed to initialize KVM|KVM is not (available|supported)|requires KVM, but it is not available|does not support virt type 'kvm'|kvm.*(Permission denied|No such file)/i.test(message);
}
