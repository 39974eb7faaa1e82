import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import type { VmSpec } from "@drover/proto";
import { toStatus } from "./grpc-status.js";
import { consoleLogPath } from "./console-log.js";
import { guestHostname } from "./domain-xml.js";
import { diskPath, prepareStorage, removeStorage, seedPath, stateDirProblem } from "./storage.js";

const hasQemuImg = (() => {
  try {
    execFileSync("qemu-img", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

const spec = (over: Partial<VmSpec>): VmSpec => ({
  name: "s", vcpus: 1, memoryMib: 64, diskGib: 0, image: "", userData: "", network: "", labels: {}, kernel: "", initrd: "", cmdline: "", restartPolicy: "", ...over,
});
const vmId = "0badc0de-0000-4000-8000-00000000000a";

describe.skipIf(!hasQemuImg)("storage", () => {
  const dir = mkdtempSync(join(tmpdir(), "drover-state-"));

  it("creates only the console log's directory for a diskless VM without user data", async () => {
    expect(await prepareStorage(dir, vmId, spec({}))).toEqual({ consoleLog: consoleLogPath(dir, vmId) });
    expect(readdirSync(dir)).toEqual(["consoles"]);
  });

  it("creates a qcow2 disk backed by a base image in the catalog's format, and removes it", async () => {
    const base = join(dir, "base.qcow2");
    execFileSync("qemu-img", ["create", "-f", "qcow2", base, "1G"], { stdio: "ignore" });
    const paths = await prepareStorage(dir, vmId, spec({ diskGib: 2, image: "base" }), { path: base, format: "qcow2" });
    expect(paths.disk).toBe(diskPath(dir, vmId));
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", paths.disk!]).toString());
    expect(info).toMatchObject({ format: "qcow2", "virtual-size": 2 * 2 ** 30, "backing-filename": base, "backing-filename-format": "qcow2" });
    await removeStorage(dir, vmId);
    expect(existsSync(paths.disk!)).toBe(false);
    await removeStorage(dir, vmId); // already gone is fine
  });

  // -F is always the registered format: a qcow2 file registered as raw is used as raw bytes, never probed.
  it("passes the registered format even when the file says otherwise", async () => {
    const base = join(dir, "looks-qcow2");
    execFileSync("qemu-img", ["create", "-f", "qcow2", base, "1G"], { stdio: "ignore" });
    const paths = await prepareStorage(dir, vmId, spec({ diskGib: 2, image: "looks-qcow2" }), { path: base, format: "raw" });
    const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", paths.disk!]).toString());
    expect(info["backing-filename-format"]).toBe("raw");
    await removeStorage(dir, vmId);
  });

  const mode = (path: string) => statSync(path).mode & 0o7777;

  it("disks and seeds are owner-only (a seed holds user data), their directories enterable but not listable", async () => {
    const state = join(dir, "modes"); // created by the agent, as the default /var/lib/drover is
    const paths = await prepareStorage(state, vmId, spec({ diskGib: 1, userData: "#cloud-config\npassword: s3cret\n" }));
    expect(paths).toEqual({ disk: diskPath(state, vmId), seed: seedPath(state, vmId), consoleLog: consoleLogPath(state, vmId) });
    expect(mode(paths.disk!)).toBe(0o600);
    expect(mode(paths.seed!)).toBe(0o600);
    for (const d of [state, join(state, "disks"), join(state, "seeds"), join(state, "consoles")]) expect(mode(d)).toBe(0o711);
    // The user data is in the ISO, and the scratch dir that built it is gone.
    expect(readFileSync(paths.seed!).includes("password: s3cret")).toBe(true);
    expect(readFileSync(paths.seed!).includes(`local-hostname: ${guestHostname(vmId)}\n`)).toBe(true);
    expect(readdirSync(join(state, "seeds"))).toEqual([`${vmId}.iso`]);
    await removeStorage(state, vmId);
  });

  it("a static IPv4 address goes into the seed's network-config (v2), matched by the NIC's MAC", async () => {
    const state = join(dir, "static");
    const paths = await prepareStorage(state, vmId, spec({ staticIpv4: { address: "192.168.213.50/24", gateway: "192.168.213.1", dns: ["192.168.213.1", "9.9.9.9"] } }));
    const iso = readFileSync(paths.seed!);
    for (const line of ["version: 2", 'macaddress: "52:54:00:00:00:0a"', "addresses: [192.168.213.50/24]", "gateway4: 192.168.213.1", "addresses: [192.168.213.1, 9.9.9.9]"]) {
      expect(iso.includes(line)).toBe(true);
    }
    await removeStorage(state, vmId);
  });

  it("names the directory QEMU cannot enter, and the fix", () => {
    const qemu = { name: "libvirt-qemu", uid: 4_000_001, gids: [4_000_001] };
    expect(stateDirProblem(join(dir, "modes"), qemu)).toMatch(new RegExp(`cannot enter ${dir} \\([^)]* 0700\\).*Fix: chmod 0711 ${dir}`));
    expect(stateDirProblem("/var/lib/drover-none/x", qemu)).toBeUndefined();
  });

  it.each([
    ["a relative kernel path", spec({ kernel: "vmlinuz" }), status.INVALID_ARGUMENT],
    ["a missing initrd", spec({ kernel: "/dev/null", initrd: "/nonexistent/initrd.img" }), status.FAILED_PRECONDITION],
    ["a static address without a prefix", spec({ userData: "#!/bin/sh\n", staticIpv4: { address: "192.168.213.50", gateway: "", dns: [] } }), status.INVALID_ARGUMENT],
    ["a bad DNS server", spec({ staticIpv4: { address: "10.0.0.2/8", gateway: "", dns: ["dns.example"] } }), status.INVALID_ARGUMENT],
  ])("refuses %s", async (_what, s, code) => {
    const err: unknown = await prepareStorage(dir, vmId, s).catch((e: unknown) => e);
    expect(toStatus(err)?.code).toBe(code);
  });
});
