import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AddressSource, DomainState } from "@drover/proto";
import { AddressWatcher } from "./addresses.js";
import { heartbeatDomains } from "./agent.js";
import { readLeases } from "./dhcp-leases.js";
import { DomainStates } from "./domain-states.js";
import { macAddress } from "./domain-xml.js";

const VM = "6f1c2a9e-1b2c-4d3e-8f90-0123456789ab";
const MAC = macAddress(VM);
const until = async (what: string, ok: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

// A virsh that hangs: what a libvirtd busy with a bulk of domain starts looks like to the agent.
const bin = mkdtempSync(join(tmpdir(), "drover-slow-virsh-"));
const slowVirsh = join(bin, "virsh");
writeFileSync(slowVirsh, "#!/bin/sh\nexec sleep 30\n");
chmodSync(slowVirsh, 0o755);
afterAll(() => rmSync(bin, { recursive: true, force: true }));

describe("addresses are looked up off the heartbeat path", () => {
  it("a heartbeat's domains are built at once while the lease lookup hangs, and carry the leases once it answers", async () => {
    let answer: (m: Map<string, string[]>) => void = () => {};
    let changes = 0;
    const watcher = new AddressWatcher({
      readLeases: () => new Promise((resolve) => (answer = resolve)),
      intervalMs: 10,
      onChange: () => changes++,
    });
    watcher.start();
    const states = new DomainStates(1);
    states.made({ uuid: VM, name: "a", state: DomainState.DOMAIN_STATE_RUNNING });
    // Synchronous: nothing here can wait for virsh.
    const first = heartbeatDomains(states, watcher, () => undefined);
    expect(first).toMatchObject([{ vmId: VM, interfaces: [], reportInterfaces: true }]);

    answer(new Map([[MAC, ["192.168.213.57/24"]]]));
    await until("the lookup", () => watcher.lookups === 1);
    expect(changes).toBe(1);
    expect(heartbeatDomains(states, watcher, () => undefined)[0]!.interfaces).toEqual([
      { mac: MAC, addresses: ["192.168.213.57/24"], source: AddressSource.ADDRESS_SOURCE_DHCP_LEASE },
    ]);
    // The same leases again are no change.
    await until("the second lookup to start", () => watcher.lookups === 1 && answer !== undefined);
    await new Promise((r) => setTimeout(r, 30));
    answer(new Map([[MAC, ["192.168.213.57/24"]]]));
    await until("the second lookup", () => watcher.lookups === 2);
    expect(changes).toBe(1);
    await Promise.race([watcher.stop(), new Promise((r) => setTimeout(r, 50))]);
  });

  it("a static address is reported as configured, whatever the leases say", () => {
    const watcher = new AddressWatcher({ readLeases: async () => new Map(), intervalMs: 1000 });
    expect(watcher.interfacesOf(VM, "10.0.0.5/24")).toEqual([{ mac: MAC, addresses: ["10.0.0.5/24"], source: AddressSource.ADDRESS_SOURCE_STATIC }]);
    const states = new DomainStates(1);
    states.made({ uuid: VM, name: "a", state: DomainState.DOMAIN_STATE_RUNNING });
    expect(heartbeatDomains(states, watcher, (id) => (id === VM ? "10.0.0.5/24" : undefined))[0]!.interfaces[0]!.source).toBe(AddressSource.ADDRESS_SOURCE_STATIC);
    // The test driver reports no interfaces at all (unknown, not "none").
    expect(heartbeatDomains(states, undefined, () => undefined)[0]).toMatchObject({ interfaces: [], reportInterfaces: false });
  });

  it("a hung virsh is killed after the lookup's timeout, and the watcher keeps the leases it had", async () => {
    const started = Date.now();
    await expect(readLeases("qemu:///system", { virsh: slowVirsh, timeoutMs: 300 })).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5000);
    let errors = 0;
    let calls = 0;
    const watcher = new AddressWatcher({
      readLeases: () => (++calls === 1 ? Promise.resolve(new Map([[MAC, ["192.168.213.9/24"]]])) : readLeases("qemu:///system", { virsh: slowVirsh, timeoutMs: 200 })),
      intervalMs: 10,
      onError: () => errors++,
    });
    watcher.start();
    await until("a failed lookup", () => errors >= 1);
    expect(watcher.interfacesOf(VM, undefined)[0]!.addresses).toEqual(["192.168.213.9/24"]);
    await watcher.stop();
  });
});
