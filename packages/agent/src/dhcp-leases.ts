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

/** Reads every active network's leases at most once per `maxAgeMs`; a failing virsh gives no leases. */
export class DhcpLeases {
  private cached: { at: number; leases: Promise<Map<string, string[]>> } | undefined;

  constructor(
    private readonly uri: string,
    private readonly maxAgeMs = 1000,
  ) {}

  get(): Promise<Map<string, string[]>> {
    if (!this.cached || Date.now() - this.cached.at > this.maxAgeMs) {
      this.cached = { at: Date.now(), leases: this.read().catch(() => new Map<string, string[]>()) };
    }
    return this.cached.leases;
  }

  private async read(): Promise<Map<string, string[]>> {
    const virsh = (...args: string[]) => run("virsh", ["-q", "-c", this.uri, ...args], { encoding: "utf8" }).then((r) => r.stdout);
    const names = (await virsh("net-list", "--name")).split("\n").map((s) => s.trim()).filter(Boolean);
    const leases = new Map<string, string[]>();
    for (const name of names) parseLeases(await virsh("net-dhcp-leases", "--network", name).catch(() => ""), leases);
    return leases;
  }
}
