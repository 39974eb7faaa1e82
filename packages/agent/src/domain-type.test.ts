import { chmodSync, chownSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chooseDomainType, isKvmUnavailable, isTestUri, kvmUsable, pickDomainType } from "./domain-type.js";
import { qemuUser } from "./qemu-user.js";

describe("pickDomainType", () => {
  const dir = mkdtempSync(join(tmpdir(), "drover-kvm-"));
  const openable = join(dir, "fake-kvm");
  writeFileSync(openable, "");
  chmodSync(openable, 0o666); // like a udev-managed /dev/kvm that every user may open
  // Opens for the agent (its owner) but not for QEMU's own unprivileged user under qemu:///system.
  const ownerOnly = join(dir, "root-only-kvm");
  writeFileSync(ownerOnly, "");
  chmodSync(ownerOnly, 0o600);
  const missing = join(dir, "no-such-device");
  // A /sys/module of a host with hardware virtualisation, so these cases do not depend on this machine's.
  const sys = join(dir, "sys-module");
  mkdirSync(join(sys, "kvm_amd"), { recursive: true });
  const pvm = join(dir, "sys-module-pvm");
  mkdirSync(join(pvm, "kvm_pvm"), { recursive: true });

  it.each([
    ["test:///default", openable, "test"],
    ["test:///tmp/x/host.xml", missing, "test"],
    ["qemu:///system", openable, "kvm"],
    ["qemu:///system", ownerOnly, "qemu"],
    ["qemu:///session", ownerOnly, "kvm"],
    ["qemu:///system", missing, "qemu"],
    // A directory cannot be opened read-write (EISDIR), even by root: like an inaccessible /dev/kvm.
    ["qemu:///system", dir, "qemu"],
    ["qemu+ssh://host/system", missing, "qemu"],
  ])("%s with kvm device %s -> %s", (uri, kvmPath, want) => {
    expect(pickDomainType(uri, kvmPath, sys)).toBe(want);
  });

  // Needs root (to own the stand-ins as root) and a QEMU user, as on a Debian libvirt host.
  const qemu = qemuUser();
  const asRoot = process.getuid?.() === 0 && qemu !== undefined && qemu.uid !== 0;

  it.runIf(asRoot)("a root-only device: emulation, with the reason and the udev rule's fix", () => {
    const choice = chooseDomainType("qemu:///system", ownerOnly, undefined, sys);
    expect(choice.type).toBe("qemu");
    expect(choice.reason).toContain(`${ownerOnly} is root:root 0600 and QEMU runs as ${qemu!.name}`);
    expect(choice.fix).toContain(`chgrp kvm ${ownerOnly} && chmod 0660 ${ownerOnly}`);
  });

  it.runIf(asRoot)("a device of one of QEMU's groups, group read-write (Debian's udev rule): kvm", () => {
    const groupRw = join(dir, "group-kvm");
    writeFileSync(groupRw, "");
    chownSync(groupRw, 0, qemu!.gids[0]!);
    chmodSync(groupRw, 0o660);
    const choice = chooseDomainType("qemu:///system", groupRw, undefined, sys);
    expect(choice.type).toBe("kvm");
    expect(choice.fix).toBeUndefined();
    chmodSync(groupRw, 0o640); // group may read but not write: QEMU cannot use it
    expect(chooseDomainType("qemu:///system", groupRw, undefined, sys).type).toBe("qemu");
  });

  it("says why for each outcome", () => {
    expect(chooseDomainType("test:///default").reason).toMatch(/test driver/);
    expect(chooseDomainType("qemu:///system", missing, undefined, sys)).toMatchObject({ type: "qemu", reason: expect.stringMatching(/no .*no-such-device on this host/) });
    expect(chooseDomainType("qemu:///system", openable, undefined, sys)).toMatchObject({ type: "kvm", reason: expect.stringMatching(/0666\) is usable by QEMU/) });
  });

  it("kvm_pvm without kvm_intel or kvm_amd: emulation, saying why (stock kernels do not boot under it)", () => {
    expect(chooseDomainType("qemu:///system", openable, undefined, pvm)).toMatchObject({ type: "qemu", reason: expect.stringMatching(/kvm_pvm .*PVM-enabled guest kernels/) });
    expect(pickDomainType("qemu:///system", openable, pvm)).toBe("qemu");
    mkdirSync(join(pvm, "kvm_intel"), { recursive: true });
    expect(pickDomainType("qemu:///system", openable, pvm)).toBe("kvm");
  });

  it("never throws for a missing device", () => {
    expect(kvmUsable(missing)).toBe(false);
    expect(isTestUri("test:///default")).toBe(true);
    expect(isTestUri("qemu:///system")).toBe(false);
  });
});

describe("isKvmUnavailable", () => {
  it.each([
    // Seen here: /dev/kvm root-only (crw-------), QEMU running as libvirt-qemu.
    ["internal error: qemu unexpectedly closed the monitor: Could not access KVM kernel module: Permission denied", true],
    ["internal error: process exited while connecting to monitor: Could not access KVM kernel module: No such file or directory", true],
    ["qemu-system-x86_64: failed to initialize KVM: Operation not permitted", true],
    ["unsupported configuration: Domain requires KVM, but it is not available", true],
    ["unsupported configuration: Emulator '/usr/bin/qemu-system-x86_64' does not support virt type 'kvm'", true],
    ["Cannot access storage file '/var/lib/drover/x.qcow2': Permission denied", false],
    ["operation failed: domain 'web-1' already exists with uuid 1234", false],
  ])("%s -> %s", (message, expected) => {
    expect(isKvmUnavailable(message)).toBe(expected);
  });
});
