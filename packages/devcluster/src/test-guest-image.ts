// The test guest (scripts/build-test-guest.sh, which `npm run cluster` runs) as the catalog image
// "test-guest": its kernel and initrd copied into the real host's image directory next to an empty
// 1 MiB raw disk that carries them, so `drover vm create NAME --disk 1G --image test-guest` boots it.
import { createHash } from "node:crypto";
import { copyFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CatalogImage } from "@drover/store";

export const TEST_GUEST_IMAGE = "test-guest";

/** Where build-test-guest.sh leaves the guest by default. */
const BUILT = process.env.DROVER_TEST_GUEST_DIR ?? "/var/lib/drover/test-guest";

/** Installs the built guest into imagesDir and returns its catalog entry; undefined when it was not built. */
export function installTestGuestImage(imagesDir: string, built = BUILT): Omit<CatalogImage, "createdAt"> | undefined {
  if (!existsSync(join(built, "vmlinuz")) || !existsSync(join(built, "initrd.img"))) return undefined;
  copyFileSync(join(built, "vmlinuz"), join(imagesDir, "test-guest-vmlinuz"));
  copyFileSync(join(built, "initrd.img"), join(imagesDir, "test-guest-initrd.img"));
  // Agents check the boot files against these before first use, like the disk.
  const sha256Of = (file: string) => createHash("sha256").update(readFileSync(join(imagesDir, file))).digest("hex");
  const disk = Buffer.alloc(1 << 20);
  writeFileSync(join(imagesDir, TEST_GUEST_IMAGE), disk);
  const cmdline = existsSync(join(built, "cmdline")) ? readFileSync(join(built, "cmdline"), "utf8").trim() : "console=ttyS0 quiet";
  return {
    name: TEST_GUEST_IMAGE,
    format: "raw",
    sizeBytes: disk.length,
    sha256: createHash("sha256").update(disk).digest("hex"),
    kernel: "test-guest-vmlinuz",
    initrd: "test-guest-initrd.img",
    cmdline,
    kernelSha256: sha256Of("test-guest-vmlinuz"),
    initrdSha256: sha256Of("test-guest-initrd.img"),
  };
}
