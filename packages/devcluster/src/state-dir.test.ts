import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { devclusterDirs } from "./state-dir.js";

const mode = (path: string) => statSync(path).mode & 0o7777;

describe("devclusterDirs", () => {
  const scratch = mkdtempSync(join(tmpdir(), "drover-devcluster-"));

  it("makes a fresh state dir QEMU's user can enter, under the devcluster root", () => {
    const root = join(scratch, "var-lib-drover", "devcluster");
    const a = devclusterDirs({}, root);
    const b = devclusterDirs({}, root);
    expect(dirname(a.stateDir)).toBe(root);
    expect(a.stateDir).not.toBe(b.stateDir); // one per run
    expect(mode(a.stateDir)).toBe(0o711); // was 0700 (mkdtemp): every VM with a disk failed
    expect(mode(root)).toBe(0o711);
    expect(mode(dirname(root))).toBe(0o711);
    expect(a.imagesDir).toBe(join(root, "images"));
    expect(mode(a.imagesDir)).toBe(0o755);
  });

  it("falls back to the tmpdir when the root cannot be made (not root)", () => {
    const blocker = join(scratch, "a-file");
    writeFileSync(blocker, "");
    const dirs = devclusterDirs({}, join(blocker, "devcluster"));
    expect(dirname(dirs.stateDir)).toBe(tmpdir());
    expect(mode(dirs.stateDir)).toBe(0o711);
  });

  it("uses DROVER_STATE_DIR when set", () => {
    const want = join(scratch, "mine");
    expect(devclusterDirs({ DROVER_STATE_DIR: want }, join(scratch, "unused")).stateDir).toBe(want);
    expect(mode(want)).toBe(0o711);
  });
});
