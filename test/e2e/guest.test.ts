import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningAgent } from "@drover/agent";
import { AddressSource, VmState } from "@drover/proto";
import type { ApiClient } from "../support/clients.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";
import { START_WITHIN_MS, qemuStateDir, startQemuHost, consoleText, type QemuHost } from "./qemu-host.js";
import { NAT_NETWORK, type TestGuest, ensureNatNetwork, guestBoot, guestImage, imageBoot, installGuest, pings, testGuest } from "./test-guest.js";

const URI = "qemu:///system";
const virsh = (...args: string[]) => execFileSync("virsh", ["-c", URI, ...args], { encoding: "utf8" });
const MARKER = "drover-e2e-marker-7f3a";
/** drover-nat's /24 (scripts/lib/setup.sh ensure_nat_network, DROVER_NAT_SUBNET). */
const NAT_PREFIX = process.env.DROVER_NAT_SUBNET ?? "192.168.213";
/**
 * Boot to the marker. Measured here under software emulation (this host's /dev/kvm is kvm_pvm, on
 * which a stock kernel does not boot): 5-13 s with other jobs running; under KVM it is about 1 s.
 */
const BOOT_WITHIN_MS = 30_000;
/** The guest powers off within a second or two of the ACPI button (busybox acpid); 15 s is failure. */
const ACPI_WITHIN_MS = 15_000;

// A real guest on qemu:///system: Debian's cloud kernel booted directly with a busybox initramfs,
// which runs the seed's shell user data, takes a DHCP address on drover-nat and powers off on ACPI.
describe("a real guest on qemu:///system", () => {
  let host: QemuHost;
  let agent: RunningAgent;
  let api: ApiClient;
  const stateDir = qemuStateDir("drover-guest-");
  const created: string[] = [];

  let guest: TestGuest;

  beforeAll(async () => {
    // Before the agent starts: a build blocks this process, and with it the agent's heartbeats.
    guest = testGuest();
    installGuest(guest, join(stateDir, "images"));
    ensureNatNetwork();
    host = await startQemuHost({ node: "guest-host", stateDir, created });
    ({ agent, api } = host);
    // VMs may only name catalog networks and images; the guest's image carries its kernel, initrd and command line.
    await api.createNetwork(NAT_NETWORK, "libvirt NAT network on this machine (scripts/lib/setup.sh ensure_nat_network)");
    await api.createImage(guestImage(guest, join(stateDir, "images")));
  }, 120_000);
  afterAll(() => host?.stop());

  const consoleLog = (id: string) => consoleText(api, id);
  const waitConsole = (id: string, what: string, re: RegExp, within: number, from = 0) =>
    waitFor(what, async () => {
      const log = (await consoleLog(id)).slice(from);
      return re.test(log) ? log : undefined;
    }, within, 200);
  const firstEvent = (subjectPrefix: string) =>
    new Promise<{ vmId: string; type: string; reason: string }>((resolve, reject) => {
      const stream = api.vms.watchEvents({ afterId: 0, fromStart: true, subjectPrefix });
      stream.on("data", (m: { event: { vmId: string; type: string; reason: string } }) => {
        resolve(m.event);
        stream.cancel();
      });
      stream.on("error", (err: { code?: number }) => (err.code === 1 ? undefined : reject(err as Error)));
    });
  const waitState = (id: string, state: VmState, within: number) =>
    waitFor(`VM ${VmState[state]}`, async () => {
      const v = await api.getVm(id);
      if (v.state === VmState.VM_STATE_FAILED) throw new Error(`VM FAILED: ${v.reason}`);
      return v.state === state ? v : undefined;
    }, within);

  /** Every state GetVm and the VM's events show while `during` runs, with a full listing by the agent every 100 ms. */
  const statesDuring = async (id: string, during: () => Promise<unknown>): Promise<string[]> => {
    const seen = new Set<string>();
    const events = api.vms.watchEvents({ afterId: 0, fromStart: false, subjectPrefix: "drover.vm." });
    events.on("data", (m: { event: { vmId: string; subject: string } }) => m.event.vmId === id && seen.add(`event ${m.event.subject}`));
    events.on("error", () => {});
    let done = false;
    // The agent's own relist runs every 30 s: here one every 100 ms, so one finds the domain off if anything can.
    const relist = (async () => {
      while (!done) {
        await agent.relistDomains().catch(() => {});
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    const poll = (async () => {
      while (!done) {
        seen.add(`GetVm ${VmState[(await api.getVm(id)).state]}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    try {
      await during();
      // A report lands with the next heartbeat (every 300 ms): give the last ones time to arrive.
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      done = true;
      await Promise.all([relist, poll]);
      events.cancel();
    }
    return [...seen].sort();
  };

  it("boots from its catalog image, runs the user data, takes a DHCP address, and stops, starts, reboots and is deleted for real", async () => {
    const userData = `#!/bin/sh\necho "${MARKER} from $(uname -r)"\n`;
    // No kernel in the spec: the image's kernel, initrd and command line boot it.
    const res = await api.createVms({ template: vmSpec("guest", 1, 128, { ...imageBoot(userData), network: NAT_NETWORK }), count: 1 });
    const id = res.vms[0]!.id;
    created.push(id);
    const domain = `guest-${id}`;
    await waitState(id, VmState.VM_STATE_RUNNING, START_WITHIN_MS);
    expect(virsh("dumpxml", domain)).toContain(`<kernel>${join(stateDir, "images", "vmlinuz")}</kernel>`);

    // (a) The user data ran in the guest: its marker is on the serial console, read through the scheduler.
    const booted = await waitConsole(id, "the marker on the console", new RegExp(`${MARKER} from 6\\.`), BOOT_WITHIN_MS);
    expect(booted).toContain("drover-guest: seed on /dev/sr0");

    // (b) The guest's DHCP address (libvirt's lease on drover-nat) is reported by GetVm and ListVms,
    // with the MAC the agent gave the NIC, and an address_changed event says so.
    const leased = await waitConsole(id, "the DHCP address on the console", /drover-guest: dhcp address (\S+)/, BOOT_WITHIN_MS);
    const cidr = /drover-guest: dhcp address (\S+)/.exec(leased)![1]!;
    const mac = virsh("domiflist", domain).match(/52:54:00(:[0-9a-f]{2}){3}/)![0];
    const withIp = await waitFor("GetVm reporting the address", async () => {
      const v = await api.getVm(id);
      return v.interfaces.some((i) => i.addresses.includes(cidr)) ? v : undefined;
    }, 10_000);
    const leased_ = [{ mac, addresses: [cidr], source: AddressSource.ADDRESS_SOURCE_DHCP_LEASE }];
    expect(withIp.interfaces).toEqual(leased_);
    expect((await api.listVms()).vms.find((v) => v.id === id)?.interfaces).toEqual(leased_);
    const event = await firstEvent("drover.vm.address_changed");
    expect(event).toMatchObject({ vmId: id, type: "vm.address_changed", reason: `${mac} ${cidr}` });

    // (c) A graceful stop is the ACPI power button: the guest says it shuts down and powers off
    // (the domain is shut off with reason "shutdown", which a destroy would not give). Meanwhile the
    // VM is STOPPING (it was STOPPED at once, while the guest ran on).
    expect((await api.stopVm(id)).state).toBe(VmState.VM_STATE_STOPPING);
    await waitConsole(id, "the guest's shutdown on the console", /drover-guest: power button: shutting down[\s\S]*reboot: Power down/, ACPI_WITHIN_MS);
    await waitFor("the domain shut off by the guest", async () => (virsh("domstate", "--reason", domain).trim() === "shut off (shutdown)" ? true : undefined), ACPI_WITHIN_MS);
    await waitState(id, VmState.VM_STATE_STOPPED, ACPI_WITHIN_MS);

    // StartVm boots it again: a second marker.
    const before = (await consoleLog(id)).length;
    await api.startVm(id);
    await waitState(id, VmState.VM_STATE_RUNNING, START_WITHIN_MS);
    await waitConsole(id, "the marker after StartVm", new RegExp(MARKER), BOOT_WITHIN_MS, before);

    // RebootVm is an ACPI reboot: the guest shuts down itself, then boots again (no reset needed).
    // Its domain is off for a moment in between; the VM stays RUNNING throughout (no STOPPED
    // flicker), in GetVm and in its events, although the agent lists its domains all the while.
    const beforeReboot = (await consoleLog(id)).length;
    const seen = await statesDuring(id, async () => {
      await api.rebootVm(id);
      const rebooted = await waitConsole(id, "the marker after RebootVm", new RegExp(MARKER), ACPI_WITHIN_MS + BOOT_WITHIN_MS, beforeReboot);
      expect(rebooted).toMatch(/drover-guest: power button: shutting down[\s\S]*drover-guest: booted/);
    });
    expect(seen).toEqual(["GetVm VM_STATE_RUNNING"]);
    await waitState(id, VmState.VM_STATE_RUNNING, START_WITHIN_MS);

    // DeleteVm removes the domain and its files.
    await api.deleteVm(id);
    await waitState(id, VmState.VM_STATE_DELETED, START_WITHIN_MS);
    expect(virsh("list", "--all", "--name").split("\n")).not.toContain(domain);
    for (const dir of ["seeds", "consoles"]) expect(readdirSync(join(stateDir, dir)).filter((f) => f.startsWith(id))).toEqual([]);
  }, 240_000);

  it("takes the static address of its spec from the seed's network-config, and Drover reports it", async () => {
    // Outside drover-nat's DHCP range (.10-.250), so no lease can hold it.
    const address = `${NAT_PREFIX}.7/24`;
    const staticIpv4 = { address, gateway: `${NAT_PREFIX}.1`, dns: [`${NAT_PREFIX}.1`] };
    const userData = `#!/bin/sh\necho "${MARKER} static"\n`;
    const res = await api.createVms({ template: vmSpec("static", 1, 128, { ...guestBoot(guest, userData), network: NAT_NETWORK, staticIpv4 }), count: 1 });
    const id = res.vms[0]!.id;
    created.push(id);
    await waitState(id, VmState.VM_STATE_RUNNING, START_WITHIN_MS);
    // The guest's init applied the seed's network-config, and answers on that address.
    await waitConsole(id, "the static address on the console", new RegExp(`drover-guest: static address ${address.replace(/\./g, "\\.")} on \\S+`), BOOT_WITHIN_MS);
    await waitFor(`the guest answering ping on ${address}`, async () => (pings(address.split("/")[0]!) ? true : undefined), 10_000, 500);
    const mac = virsh("domiflist", `static-${id}`).match(/52:54:00(:[0-9a-f]{2}){3}/)![0];
    const v = await waitFor("GetVm reporting the static address", async () => {
      const vm = await api.getVm(id);
      return vm.interfaces.length > 0 ? vm : undefined;
    }, 10_000);
    expect(v.interfaces).toEqual([{ mac, addresses: [address], source: AddressSource.ADDRESS_SOURCE_STATIC }]);
    await api.deleteVm(id);
    await waitState(id, VmState.VM_STATE_DELETED, START_WITHIN_MS);
  }, 120_000);
});
