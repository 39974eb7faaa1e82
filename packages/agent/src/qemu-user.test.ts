import { chmodSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { type QemuUser, mayAccess, unsearchableDir } from "./qemu-user.js";

const qemu: QemuUser = { name: "libvirt-qemu", uid: 64055, gids: [113, 64055] };
const RW = 6;
const X = 1;

describe("mayAccess", () => {
  it.each([
    [{ uid: 0, gid: 0, mode: 0o600 }, RW, false], // root-only /dev/kvm, no udev rule ran
    [{ uid: 0, gid: 113, mode: 0o660 }, RW, true], // root:kvm 0660 (Debian's udev rule)
    [{ uid: 0, gid: 113, mode: 0o640 }, RW, false],
    [{ uid: 0, gid: 0, mode: 0o666 }, RW, true], // systemd's default 0666
    [{ uid: 64055, gid: 0, mode: 0o600 }, RW, true], // chowned to QEMU by dynamic ownership
    [{ uid: 64055, gid: 113, mode: 0o066 }, RW, false], // the owner's bits count, not the group's
    [{ uid: 0, gid: 0, mode: 0o700 }, X, false], // a mkdtemp directory
    [{ uid: 0, gid: 0, mode: 0o711 }, X, true],
  ])("%o bits %d -> %s", (st, bits, want) => {
    expect(mayAccess(st, qemu, bits)).toBe(want);
  });

  it("root may do anything", () => {
    expect(mayAccess({ uid: 1, gid: 1, mode: 0 }, { name: "root", uid: 0, gids: [0] }, RW)).toBe(true);
  });
});

describe("unsearchableDir", () => {
  const nobody: QemuUser = { name: "nobody-here", uid: 4_000_000, gids: [4_000_000] };

  it("finds the first directory QEMU's user cannot enter, and none when all are 0711", () => {
    const top = mkdtempSync(join(tmpdir(), "drover-reach-")); // 0700, like the devcluster's old state dir
    const state = join(top, "state");
    mkdirSync(state, { mode: 0o711 });
    expect(unsearchableDir(join(state, "disks"), nobody)).toBe(top);
    chmodSync(top, 0o711);
    expect(unsearchableDir(join(state, "disks"), nobody)).toBeUndefined();
    chmodSync(state, 0o700);
    expect(unsearchableDir(join(state, "disks"), nobody)).toBe(state);
  });
});
