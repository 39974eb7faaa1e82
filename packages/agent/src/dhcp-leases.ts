// The addresses libvirt's DHCP servers (dnsmasq, one per libvirt network) handed out, by MAC.
// Through `virsh net-dhcp-leases`, because @unraid/libvirt 2.2.1 binds neither
// virNetworkGetDHCPLeases nor virDomainInterfaceAddresses (its types.d.ts declares
// DomainInterfaceInfo, but no native method returns it). One virsh call per network, not per VM.
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);
const MAC = /\b([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b/i;
const CIDR = /\b(\d{1,3}(?:\.\d{1,3}){3}\/\d{1,2})\b/;

/** MAC (lower case) -> CIDR addresses, from `virsh net-dhcp-leases` output. */
export function parseLeases(table: string, into = new Map<string, string[]>()): Map<string, string[]> {
  for (const line of table.split("\n")) {
    const mac = MAC.exec(line)?.[1]?.toLowerCase();
    const cidr = CIDR.exec(line)?.[1];
    if (!mac || !cidr) continue;
    const list = into.get(mac) ?? [];
    if (!list.includes(cidr)) list.push(cidr);
    into.set(mac, list);
  }
  return into;
}

export interface ReadLeasesOptions {
  /** The virsh binary (tests put a slow one here); default "virsh" from PATH. */
  virsh?: string;
  /** A virsh call that takes longer is killed (its networks give no leases this time). */
  timeoutMs?: number;
}

/** Every active network's leases: one `virsh net-list`, then one `net-dhcp-leases` per network. */
export async function readLeases(uri: string, opts: ReadLeasesOptions = {}): Promise<Map<string, string[]>> {
  const timeout = opts.timeoutMs ?? 10_000;
  const virsh = (...args: string[]) => run(opts.virsh ?? "virsh", ["-q", "-c", uri, ...args], { encoding: "utf8", timeout }).then((r) => r.stdout);
  const names = (await virsh("net-list", "--name")).split("\n").map((s) => s.trim()).filter(Boolean);
  const leases = new Map<string, string[]>();
  for (const name of names) parseLeases(await virsh("net-dhcp-leases", "--network", name).catch(() => ""), leases);
  return leases;
}
