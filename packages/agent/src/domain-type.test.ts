import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isKvmUnavailable, isTestUri, kvmUsable, pickDomainType } from "./domain-type.js";

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
    expect(pickDomainType(uri, kvmPath)).toBe(want);
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
    ["Cannot access storage file '/var/lib/drover/x.qcow2': Permission denied", false],
    ["operation failed: domain 'web-1' already exists with uuid 1234", false],
  ])("%s -> %s", (message, expected) => {
    expect(isKvmUnavailable(message)).toBe(expected);
  });
});
