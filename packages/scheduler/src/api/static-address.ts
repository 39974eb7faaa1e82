// A VM's static IPv4 address (VmSpec.static_ipv4): checked at the API, so a bad one is refused with
// the field to fix instead of failing the VM on its host. The agent writes it into the seed's
// network-config and reports it as the VM's address.
import type { StaticIpv4 } from "@drover/proto";
import { ValidationError } from "../errors.js";

const OCTET = "(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)";
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
/** cloud-init's resolv.conf takes three; more would be dropped without a word. */
const MAX_DNS = 3;

const toInt = (ip: string) => ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);

/** The address as a number and its prefix length, or a ValidationError naming `field`. */
function parseCidr(field: string, cidr: string): { ip: number; prefix: number } {
  const m = /^([^/]+)\/(\d{1,2})$/.exec(cidr);
  const prefix = m ? Number(m[2]) : NaN;
  if (!m || !IPV4.test(m[1]!) || prefix < 1 || prefix > 32) {
    throw new ValidationError(field, `must be an IPv4 address with a prefix length of 1-32, like 192.168.213.50/24, got ${JSON.stringify(cidr.slice(0, 80))}`);
  }
  return { ip: toInt(m[1]!), prefix };
}

/**
 * `at` is the template's field path. `count` VMs share the template, so it must be 1 (one address
 * is one VM's), and the VM needs a network for the NIC the address is for.
 */
export function validateStaticIpv4(at: string, s: StaticIpv4, count: number, network: string): void {
  const field = `${at}.static_ipv4`;
  if (count !== 1) throw new ValidationError(field, `is one VM's address: use it with count 1 (got ${count}), one request per address`);
  if (!network) throw new ValidationError(field, `needs ${at}.network (the address is for the VM's NIC on it)`);
  const { ip, prefix } = parseCidr(`${field}.address`, s.address);
  const mask = prefix === 32 ? 0xffffffff : (0xffffffff << (32 - prefix)) >>> 0;
  const host = ip & ~mask;
  // /31 and /32 have no network or broadcast address (RFC 3021).
  if (prefix <= 30 && (host === 0 || host === (~mask >>> 0))) {
    throw new ValidationError(`${field}.address`, `is the network's ${host === 0 ? "network" : "broadcast"} address, which no host may use: got ${s.address}`);
  }
  if (s.gateway) {
    if (!IPV4.test(s.gateway)) throw new ValidationError(`${field}.gateway`, `must be an IPv4 address, got ${JSON.stringify(s.gateway.slice(0, 80))}`);
    const gw = toInt(s.gateway);
    if (gw === ip) throw new ValidationError(`${field}.gateway`, `must not be the VM's own address ${s.address}`);
    if ((gw & mask) >>> 0 !== (ip & mask) >>> 0) {
      throw new ValidationError(`${field}.gateway`, `must be inside the address's subnet ${s.address} (the guest reaches it directly), got ${s.gateway}`);
    }
  }
  if (s.dns.length > MAX_DNS) throw new ValidationError(`${field}.dns`, `at most ${MAX_DNS} servers, got ${s.dns.length}`);
  s.dns.forEach((d, i) => {
    if (!IPV4.test(d)) throw new ValidationError(`${field}.dns[${i}]`, `must be an IPv4 address, got ${JSON.stringify(d.slice(0, 80))}`);
  });
}
