import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NAT_NETWORK, ensureNatNetwork } from "./nat-network.js";
import { installTestGuestImage } from "./test-guest-image.js";

const scratch = mkdtempSync(join(tmpdir(), "drover-devcluster-test-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the one-machine mode's real host", () => {
  it("has drover-nat active after ensureNatNetwork, which is idempotent (scripts/lib/setup.sh's definition)", () => {
    ensureNatNetwork();
    ensureNatNetwork();
    const info = execFileSync("virsh", ["-q", "-c", "qemu:///system", "net-info", NAT_NETWORK], { encoding: "utf8" });
    expect(info).toMatch(/^Active: +yes/m);
    expect(execFileSync("virsh", ["-q", "-c", "qemu:///system", "net-dumpxml", NAT_NETWORK], { encoding: "utf8" })).toMatch(/<dhcp>/);
  });

  it("says why when the setup script is not there", () => {
    expect(() => ensureNatNetwork(join(scratch, "no-setup.sh"))).toThrow(/no-setup\.sh is missing: run from a Drover checkout/);
  });

  it("registers the built test guest as an image whose kernel and initrd sit in the image directory", () => {
    const built = join(scratch, "built");
    const images = join(scratch, "images");
    execFileSync("mkdir", ["-p", built, images]);
    expect(installTestGuestImage(images, built)).toBeUndefined();
    writeFileSync(join(built, "vmlinuz"), "kernel");
    writeFileSync(join(built, "initrd.img"), "initrd");
    writeFileSync(join(built, "cmdline"), "console=ttyS0 quiet\n");
    const image = installTestGuestImage(images, built)!;
    expect(image).toMatchObject({ name: "test-guest", format: "raw", sizeBytes: 1 << 20, kernel: "test-guest-vmlinuz", initrd: "test-guest-initrd.img", cmdline: "console=ttyS0 quiet" });
    expect(image.sha256).toBe(createHash("sha256").update(readFileSync(join(images, "test-guest"))).digest("hex"));
    expect(readFileSync(join(images, "test-guest-vmlinuz"), "utf8")).toBe("kernel");
    // Agents check the boot files against these before first use.
    expect(image.kernelSha256).toBe(createHash("sha256").update("kernel").digest("hex"));
    expect(image.initrdSha256).toBe(createHash("sha256").update("initrd").digest("hex"));
  });
});
