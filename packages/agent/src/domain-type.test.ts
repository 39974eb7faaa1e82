import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { isTestUri, kvmUsable, pickDomainType } from "./domain-type.js";

describe("pickDomainType", () => {
  const dir = mkdtempSync(join(tmpdir(), "drover-kvm-"));
  const openable = join(dir, "fake-kvm");
  writeFileSync(openable, "");
  const missing = join(dir, "no-such-device");

  it.each([
    ["test:///default", openable, "test"],
    ["test:///tmp/x/host.xml", missing, "test"],
    ["qemu:///system", openable, "kvm"],
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
