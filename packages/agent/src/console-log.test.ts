import { appendFileSync, mkdtempSync, renameSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { tailFile, unboundedConsoleLogs } from "./console-log.js";

const dir = mkdtempSync(join(tmpdir(), "drover-console-"));

async function collect(path: string, opts: Parameters<typeof tailFile>[1]): Promise<string> {
  const chunks: Buffer[] = [];
  await tailFile(path, opts, async (c) => void chunks.push(Buffer.from(c)));
  return Buffer.concat(chunks).toString();
}

describe("tailFile", () => {
  it("reads the whole log, or only its last maxBytes", async () => {
    const path = join(dir, "a.log");
    writeFileSync(path, "SeaBIOS\nBooting from Hard Disk...\n");
    expect(await collect(path, { follow: false, done: () => true })).toBe("SeaBIOS\nBooting from Hard Disk...\n");
    expect(await collect(path, { follow: false, done: () => true, maxBytes: 8 })).toBe("Disk...\n");
  });

  it("a missing log is empty", async () => {
    expect(await collect(join(dir, "none.log"), { follow: false, done: () => true })).toBe("");
  });

  it("follows what is appended, a rotation included, until done", async () => {
    const path = join(dir, "b.log");
    writeFileSync(path, "one\n");
    let stop = false;
    const got: string[] = [];
    const tail = tailFile(path, { follow: true, done: () => stop, pollMs: 20 }, async (c) => void got.push(c.toString()));
    await sleep(80);
    appendFileSync(path, "two\n");
    await sleep(80);
    renameSync(path, `${path}.0`); // what virtlogd does at max_size
    writeFileSync(path, "three\n");
    await sleep(80);
    stop = true;
    await tail;
    expect(got.join("")).toBe("one\ntwo\nthree\n");
  });
});

describe("unboundedConsoleLogs", () => {
  it("warns only when QEMU, not virtlogd, writes the logs", () => {
    const conf = join(dir, "qemu.conf");
    writeFileSync(conf, '#stdio_handler = "logd"\nuser = "libvirt-qemu"\n');
    expect(unboundedConsoleLogs(conf)).toBeUndefined();
    writeFileSync(conf, 'stdio_handler = "file"\n');
    expect(unboundedConsoleLogs(conf)).toMatch(/nothing rotates them\. Fix: set stdio_handler = "logd"/);
    expect(unboundedConsoleLogs(join(dir, "no-such.conf"))).toBeUndefined();
  });
});
