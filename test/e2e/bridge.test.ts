// A VM on a Linux bridge registered in the network catalog (issue 12): the test makes a bridge with
// `ip link add … type bridge`, gives the host an address on it, and boots the test guest there with
// a static address; the host then reaches the guest across the bridge. A bridge the catalog does not
// hold is refused at the API; one the catalog holds but the node lacks fails the VM saying so.
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AddressSource, NetworkType, VmState } from "@drover/proto";
import type { ApiClient } from "../support/clients.js";
import { rejects, vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";
import { START_WITHIN_MS, qemuStateDir, startQemuHost, consoleText, type QemuHost } from "./qemu-host.js";
import { type TestGuest, guestBoot, installGuest, pings, testGuest } from "./test-guest.js";

const URI = "qemu:///system";
const virsh = (...args: string[]) => execFileSync("virsh", ["-c", URI, ...args], { encoding: "utf8" });
const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
/** Removes the bridge if it is there (left by an aborted run, or made by this one). */
const removeBridge = () => {
  try {
    ip("link", "del", BRIDGE);
  } catch {
    // not there
  }
};
/** Made and removed by this test; the name is also the catalog entry's. */
const BRIDGE = "drvbr-e2e";
/** A /24 of its own on the bridge (TEST-NET-ish private range no other test uses). */
const PREFIX = "10.213.77";
const BOOT_WITHIN_MS = 30_000;

describe("a VM on a Linux bridge from the network catalog", () => {
  let host: QemuHost;
  let api: ApiClient;
  let guest: TestGuest;
  const stateDir = qemuStateDir("drover-bridge-");
  const created: string[] = [];

  beforeAll(async () => {
    guest = testGuest();
    installGuest(guest, join(stateDir, "images"));
    removeBridge();
    ip("link", "add", BRIDGE, "type", "bridge");
    ip("addr", "add", `${PREFIX}.1/24`, "dev", BRIDGE);
    ip("link", "set", BRIDGE, "up");
    host = await startQemuHost({ node: "bridge-host", stateDir, created, scheduler: { natsUrl: "" } });
    api = host.api;
    await api.createNetwork(BRIDGE, "a Linux bridge made by the test", NetworkType.NETWORK_TYPE_BRIDGE);
    // Registered, but no node has it.
    await api.createNetwork("drvbr-none", "a bridge no node has", NetworkType.NETWORK_TYPE_BRIDGE);
  }, 120_000);
  afterAll(async () => {
    await host?.stop();
    removeBridge();
  });

  const consoleLog = (id: string) => consoleText(api, id);

  it("attaches the NIC to the bridge, runs, takes its static address there and answers across the bridge", async () => {
    const address = `${PREFIX}.50/24`;
    const spec = vmSpec("bridged", 1, 128, { ...guestBoot(guest, "#!/bin/sh\necho bridged\n"), network: BRIDGE, staticIpv4: { address, gateway: `${PREFIX}.1`, dns: [] } });
    const id = (await api.createVms({ template: spec, count: 1 })).vms[0]!.id;
    created.push(id);
    const vm = await waitFor("RUNNING", async () => {
      const v = await api.getVm(id);
      if (v.state === VmState.VM_STATE_FAILED) throw new Error(`FAILED: ${v.reason}`);
      return v.state === VmState.VM_STATE_RUNNING ? v : undefined;
    }, START_WITHIN_MS);
    const xml = virsh("dumpxml", id);
    expect(xml).toMatch(new RegExp(`<interface type='bridge'>[\\s\\S]*<source bridge='${BRIDGE}'/>[\\s\\S]*</interface>`));
    expect(xml).not.toContain("<source network=");
    // QEMU's tap device is a port of the bridge.
    expect(execFileSync("ip", ["-o", "link", "show", "master", BRIDGE], { encoding: "utf8" })).toMatch(/vnet\d+/);
    await waitFor("the static address on the console", async () => ((await consoleLog(id)).includes(`drover-guest: static address ${address}`) ? true : undefined), BOOT_WITHIN_MS, 250);
    await waitFor(`the guest answering on ${address} across ${BRIDGE}`, async () => (pings(`${PREFIX}.50`) ? true : undefined), 15_000, 500);
    const reported = await waitFor("the address reported", async () => {
      const v = await api.getVm(id);
      return v.interfaces.length > 0 ? v.interfaces : undefined;
    }, 10_000);
    expect(reported).toEqual([{ mac: expect.stringMatching(/^52:54:00:/) as string, addresses: [address], source: AddressSource.ADDRESS_SOURCE_STATIC }]);
    expect(vm.spec?.network).toBe(BRIDGE);
    await api.deleteVm(id);
    await waitFor("DELETED", async () => ((await api.getVm(id)).state === VmState.VM_STATE_DELETED ? true : undefined), START_WITHIN_MS);
  }, 120_000);

  it("refuses a bridge the catalog does not hold at the API", async () => {
    const err = await rejects(api.createVms({ template: vmSpec("stray", 1, 128, { network: "br-unknown" }), count: 1 }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^template\.network: names no catalog network: "br-unknown"/);
  });

  it("fails a VM on a catalog bridge its node lacks, saying how to make it", async () => {
    const id = (await api.createVms({ template: vmSpec("nobridge", 1, 128, { network: "drvbr-none" }), count: 1 })).vms[0]!.id;
    created.push(id);
    const vm = await waitFor("FAILED", async () => {
      const v = await api.getVm(id);
      return v.state === VmState.VM_STATE_FAILED ? v : undefined;
    }, START_WITHIN_MS);
    expect(vm.reason).toMatch(/bridge drvbr-none does not exist on this node; create it \(ip link add drvbr-none type bridge/);
    expect(virsh("list", "--all", "--uuid")).not.toContain(id);
  });
});
