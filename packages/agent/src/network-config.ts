// cloud-init network-config (version 2) for a VM's static IPv4 address. The NIC is matched by the
// MAC the agent gives it (macAddress), so the guest's interface name does not matter.
import type { StaticIpv4 } from "@drover/proto";
import { macAddress } from "./domain-xml.js";
import { ValidationError } from "./errors.js";

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** Refuses what is not an IPv4 CIDR, gateway and DNS list, naming the field to fix. */
export function checkStaticIpv4(s: StaticIpv4): StaticIpv4 {
  const [ip, prefix, ...rest] = s.address.split("/");
  if (!ip || !IPV4.test(ip) || prefix === undefined || !/^\d{1,2}$/.test(prefix) || Number(prefix) > 32 || rest.length > 0) {
    throw new ValidationError("spec.static_ipv4.address", `must be an IPv4 address with a prefix length, like 192.168.213.50/24, got ${JSON.stringify(s.address)}`);
  }
  if (s.gateway && !IPV4.test(s.gateway)) throw new ValidationError("spec.static_ipv4.gateway", `must be an IPv4 address, got ${JSON.stringify(s.gateway)}`);
  s.dns.forEach((d, i) => {
    if (!IPV4.test(d)) throw new ValidationError(`spec.static_ipv4.dns[${i}]`, `must be an IPv4 address, got ${JSON.stringify(d)}`);
  });
  return s;
}

export function networkConfig(vmId: string, s: StaticIpv4): string {
  checkStaticIpv4(s);
  const lines = [
    "version: 2",
    "ethernets:",
    "  nic0:",
    "    match:",
    `      macaddress: "${macAddress(vmId)}"`,
    `    addresses: [${s.address}]`,
  ];
  if (s.gateway) lines.push(`    gateway4: ${s.gateway}`);
  if (s.dns.length > 0) lines.push("    nameservers:", `      addresses: [${s.dns.join(", ")}]`);
  return lines.join("\n") + "\n";
}
