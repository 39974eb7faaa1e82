// Which network a VM's NIC joins, from the catalog entry the scheduler sends with EnsureDomain: a
// libvirt network (<interface type='network'>) or a Linux bridge (<interface type='bridge'>).
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Network, NetworkType, type VmSpec } from "@drover/proto";
import { BridgeMissingError, ValidationError } from "./errors.js";

export interface NetworkAttachment {
  type: "network" | "bridge";
  /** The libvirt network's or the bridge device's name. */
  source: string;
}

const LIBVIRT_NETWORK = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
// A kernel interface name (IFNAMSIZ - 1 bytes), and never a path: it is looked up under /sys/class/net.
const BRIDGE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;

/**
 * The NIC's attachment, or undefined for a VM without one. The bridge must exist here: libvirt would
 * fail the start with a less helpful "Cannot get interface MTU". `sysNet` is for tests.
 */
export function networkAttachment(spec: VmSpec, entry: Network | undefined, sysNet = "/sys/class/net"): NetworkAttachment | undefined {
  if (!spec.network) {
    if (entry) throw new ValidationError("network", "must be unset when spec.network is empty");
    return undefined;
  }
  if (entry && entry.name !== spec.network) throw new ValidationError("network.name", `must be spec.network (${JSON.stringify(spec.network)}), got ${JSON.stringify(entry.name)}`);
  if (entry?.type === NetworkType.NETWORK_TYPE_BRIDGE) {
    if (!BRIDGE.test(spec.network)) throw new ValidationError("spec.network", `must be a Linux bridge's name (1-15 of [A-Za-z0-9._-]), got ${JSON.stringify(spec.network)}`);
    if (!existsSync(join(sysNet, spec.network, "bridge"))) throw new BridgeMissingError(spec.network);
    return { type: "bridge", source: spec.network };
  }
  if (!LIBVIRT_NETWORK.test(spec.network)) throw new ValidationError("spec.network", `must be a libvirt network's name (1-64 of [A-Za-z0-9._-]), got ${JSON.stringify(spec.network)}`);
  return { type: "network", source: spec.network };
}
