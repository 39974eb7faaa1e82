import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { probeCapabilities, slowProbeWarning } from "./libvirt-probe.js";

// A stand-in virsh: sleeps as long as the file `delays` says for its n-th call, and counts calls.
function fakeVirsh(delays: number[], exitCode = 0): { path: string; calls: () => number } {
  const dir = mkdtempSync(join(tmpdir(), "drover-virsh-"));
  const count = join(dir, "calls");
  writeFileSync(count, "");
  const path = join(dir, "virsh");
  const script = [
    "#!/bin/sh",
    `echo x >> ${count}`,
    `n=$(wc -l < ${count})`,
    `case $n in ${delays.map((d, i) => `${i + 1}) sleep ${d};;`).join(" ")} esac`,
    `exit ${exitCode}`,
  ].join("\n");
  writeFileSync(path, script);
  chmodSync(path, 0o755);
  return { path, calls: () => readFileSync(count, "utf8").split("\n").filter(Boolean).length };
}

describe("probeCapabilities", () => {
  it("asks once when libvirtd answers fast", async () => {
    const virsh = fakeVirsh([0]);
    const probe = await probeCapabilities("qemu:///system", { virsh: virsh.path, slowSeconds: 0.5 });
    expect(probe).toMatchObject({ slow: false });
    expect(probe!.seconds).toBeLessThan(0.5);
    expect(virsh.calls()).toBe(1);
  });

  it("a slow first answer (filling an empty cache) followed by a fast one is not slow", async () => {
    const virsh = fakeVirsh([0.6, 0]);
    const probe = await probeCapabilities("qemu:///system", { virsh: virsh.path, slowSeconds: 0.5 });
    expect(probe).toMatchObject({ slow: false });
    expect(virsh.calls()).toBe(2);
  });

  it("two slow answers mean libvirtd re-probes QEMU on every lookup", async () => {
    const virsh = fakeVirsh([0.6, 0.6]);
    const probe = await probeCapabilities("qemu:///system", { virsh: virsh.path, slowSeconds: 0.5 });
    expect(probe).toMatchObject({ slow: true });
    expect(probe!.seconds).toBeGreaterThanOrEqual(0.5);
    expect(slowProbeWarning(probe!, "chmod 0660 /dev/kvm")).toMatch(/twice.*tens of seconds\. Fix: chmod 0660 \/dev\/kvm/);
    expect(slowProbeWarning(probe!, undefined)).toMatch(/is not available now/);
  });

  it("knows nothing when virsh is missing or fails", async () => {
    expect(await probeCapabilities("qemu:///system", { virsh: "/nonexistent/virsh" })).toBeUndefined();
    expect(await probeCapabilities("qemu:///system", { virsh: fakeVirsh([0], 1).path })).toBeUndefined();
  });
});
