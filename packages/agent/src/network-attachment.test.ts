import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { type Network, NetworkType, VmSpec } from "@drover/proto";
import { toStatus } from "./grpc-status.js";
import { networkAttachment } from "./network-attachment.js";

// A stand-in for /sys/class/net: br-ok is a bridge (it has a bridge/ directory), eth0 is not.
const sysNet = mkdtempSync(join(tmpdir(), "drover-sysnet-"));
mkdirSync(join(sysNet, "br-ok", "bridge"), { recursive: true });
mkdirSync(join(sysNet, "eth0"), { recursive: true });
afterAll(() => rmSync(sysNet, { recursive: true, force: true }));

const spec = (network: string) => VmSpec.fromPartial({ name: "a", vcpus: 1, memoryMib: 64, network });
const entry = (name: string, type: NetworkType): Network => ({ name, description: "", type, createdAt: undefined });
const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return toStatus(err);
  }
  throw new Error("not refused");
};

describe("networkAttachment", () => {
  it("attaches to a libvirt network, also when an older scheduler sends no catalog entry", () => {
    expect(networkAttachment(spec("drover-nat"), entry("drover-nat", NetworkType.NETWORK_TYPE_LIBVIRT), sysNet)).toEqual({ type: "network", source: "drover-nat" });
    expect(networkAttachment(spec("drover-nat"), undefined, sysNet)).toEqual({ type: "network", source: "drover-nat" });
    expect(networkAttachment(spec(""), undefined, sysNet)).toBeUndefined();
  });

  it("attaches to a bridge that exists on this node", () => {
    expect(networkAttachment(spec("br-ok"), entry("br-ok", NetworkType.NETWORK_TYPE_BRIDGE), sysNet)).toEqual({ type: "bridge", source: "br-ok" });
  });

  it.each([
    ["a bridge this node lacks", spec("br-gone"), entry("br-gone", NetworkType.NETWORK_TYPE_BRIDGE), status.FAILED_PRECONDITION, /bridge br-gone does not exist on this node; create it \(ip link add br-gone type bridge/],
    ["an interface that is no bridge", spec("eth0"), entry("eth0", NetworkType.NETWORK_TYPE_BRIDGE), status.FAILED_PRECONDITION, /bridge eth0 does not exist/],
    ["a bridge name that is a path", spec("../br-ok"), entry("../br-ok", NetworkType.NETWORK_TYPE_BRIDGE), status.INVALID_ARGUMENT, /spec\.network must be a Linux bridge's name/],
    ["a bridge name over 15 characters", spec("b".repeat(16)), entry("b".repeat(16), NetworkType.NETWORK_TYPE_BRIDGE), status.INVALID_ARGUMENT, /spec\.network must be a Linux bridge's name/],
    ["an entry for another network", spec("a"), entry("b", NetworkType.NETWORK_TYPE_LIBVIRT), status.INVALID_ARGUMENT, /network\.name must be spec\.network/],
    ["an entry without spec.network", spec(""), entry("b", NetworkType.NETWORK_TYPE_LIBVIRT), status.INVALID_ARGUMENT, /^network must be unset/],
  ])("refuses %s", (_, s, e, code, message) => {
    const st = refusal(() => networkAttachment(s, e, sysNet));
    expect(st?.code).toBe(code);
    expect(st?.details).toMatch(message);
  });
});
