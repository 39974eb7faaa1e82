// Each VM's serial console is logged on its host: libvirt's <serial><log file=…/></serial>, written
// through virtlogd, which rotates the file at its max_size (virtlogd.conf, 2 MiB by default) and keeps
// max_backups (3) old ones, so a chatty guest cannot fill the disk. This module reads that file.
import { readFileSync } from "node:fs";
import { open, stat } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

/** A read starts at most this far before the end (the log itself may be larger, up to virtlogd's max_size). */
export const CONSOLE_READ_MAX = 1 << 20;
const CHUNK = 64 << 10;

export function consoleLogPath(stateDir: string, vmId: string): string {
  return join(stateDir, "consoles", `${vmId}.log`);
}

/** The rotated copies virtlogd keeps next to the log (name.0, name.1, ...), for clean-up. */
export function rotatedConsoleLogs(path: string, backups = 8): string[] {
  return Array.from({ length: backups }, (_, i) => `${path}.${i}`);
}

export interface TailOptions {
  /** Keep reading what is appended until `done` says stop. */
  follow: boolean;
  /** Asked between polls while following: the call was cancelled, or the domain is gone. */
  done: () => boolean | Promise<boolean>;
  pollMs?: number;
  maxBytes?: number;
}

/**
 * Writes the file's last `maxBytes`, then, when following, what is appended to it. A file that
 * virtlogd rotated (a new inode) or that shrank is read again from its start. A missing file is
 * empty: the domain may not have written anything yet.
 */
export async function tailFile(path: string, opts: TailOptions, write: (chunk: Buffer) => Promise<void>): Promise<void> {
  const maxBytes = opts.maxBytes ?? CONSOLE_READ_MAX;
  let offset: number | undefined;
  let inode: number | undefined;
  for (;;) {
    const st = await stat(path).catch(() => undefined);
    if (st) {
      if (offset === undefined) offset = Math.max(0, st.size - maxBytes);
      else if (st.ino !== inode || st.size < offset) offset = 0;
      inode = st.ino;
      offset = await copyRange(path, offset, st.size, write);
    }
    if (!opts.follow || (await opts.done())) return;
    await sleep(opts.pollMs ?? 250);
  }
}

/** Writes bytes [from, to) of the file in chunks; returns where it stopped (the file may have been replaced meanwhile). */
async function copyRange(path: string, from: number, to: number, write: (chunk: Buffer) => Promise<void>): Promise<number> {
  if (to <= from) return from;
  const file = await open(path, "r").catch(() => undefined);
  if (!file) return from;
  try {
    let at = from;
    while (at < to) {
      const buf = Buffer.alloc(Math.min(CHUNK, to - at));
      const { bytesRead } = await file.read(buf, 0, buf.length, at);
      if (bytesRead === 0) break;
      await write(buf.subarray(0, bytesRead));
      at += bytesRead;
    }
    return at;
  } finally {
    await file.close();
  }
}

/**
 * Why console logs would grow without bound on this host, or undefined: with qemu.conf's
 * stdio_handler = "file", QEMU writes the log itself and nothing rotates it.
 */
export function unboundedConsoleLogs(qemuConf = "/etc/libvirt/qemu.conf"): string | undefined {
  let conf: string;
  try {
    conf = readFileSync(qemuConf, "utf8");
  } catch {
    return undefined;
  }
  if (!/^\s*stdio_handler\s*=\s*"file"/m.test(conf)) return undefined;
  return `${qemuConf} sets stdio_handler = "file", so QEMU writes VM console logs itself and nothing rotates them. Fix: set stdio_handler = "logd" (the default) and restart libvirtd`;
}
