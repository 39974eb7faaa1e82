// Who QEMU runs as under qemu:///system, and whether that user may use a path. libvirtd runs as
// root but starts QEMU as an unprivileged user (Debian: libvirt-qemu, in group kvm; Fedora: qemu),
// so "the agent can open it" says nothing about "QEMU can open it".
import { execFileSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";

export interface QemuUser {
  name: string;
  uid: number;
  /** Primary and supplementary groups. */
  gids: number[];
}

/** Distribution defaults for qemu.conf's `user`, tried in order when it is not set. */
const DEFAULT_USERS = ["libvirt-qemu", "qemu"];

/**
 * The user libvirt starts QEMU as: qemu.conf's `user = "..."` (a name or "+uid"), else the first
 * distribution default that exists. undefined when none is known (then nothing can be checked).
 */
export function qemuUser(qemuConf = "/etc/libvirt/qemu.conf"): QemuUser | undefined {
  const configured = /^\s*user\s*=\s*"([^"]+)"/m.exec(readOr(qemuConf))?.[1];
  for (const candidate of configured ? [configured.replace(/^\+/, "")] : DEFAULT_USERS) {
    const found = lookupUser(candidate);
    if (found) return found;
  }
  return undefined;
}

function lookupUser(nameOrUid: string): QemuUser | undefined {
  try {
    const id = (...args: string[]) => execFileSync("id", [...args, nameOrUid], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    return { name: id("-un"), uid: Number(id("-u")), gids: id("-G").split(/\s+/).map(Number) };
  } catch {
    return undefined;
  }
}

/** Whether `user` has all of `bits` (4 read, 2 write, 1 execute/search) on a file with this owner and mode. */
export function mayAccess(st: { uid: number; gid: number; mode: number }, user: QemuUser, bits: number): boolean {
  if (user.uid === 0) return true;
  const granted = st.uid === user.uid ? (st.mode >> 6) & 7 : user.gids.includes(st.gid) ? (st.mode >> 3) & 7 : st.mode & 7;
  return (granted & bits) === bits;
}

/** "root:root 0600": owner, group and permission bits, as ls would name them. */
export function describeOwnership(path: string): string {
  const st = statSync(path);
  const mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
  return `${nameOf("/etc/passwd", st.uid)}:${nameOf("/etc/group", st.gid)} ${mode}`;
}

export function groupNames(gids: readonly number[]): string[] {
  return gids.map((g) => nameOf("/etc/group", g));
}

/** The first directory from `path` up to / that `user` cannot search (enter), or undefined. */
export function unsearchableDir(path: string, user: QemuUser): string | undefined {
  for (let dir = path; ; dir = dirname(dir)) {
    try {
      if (!mayAccess(statSync(dir), user, 1)) return dir;
    } catch {
      // Not created yet: the agent creates it (mode 0711); its parents decide.
    }
    if (dir === dirname(dir)) return undefined;
  }
}

function nameOf(file: string, id: number): string {
  const line = readOr(file).split("\n").find((l) => l.split(":")[2] === String(id));
  return line?.split(":")[0] ?? String(id);
}

function readOr(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}
