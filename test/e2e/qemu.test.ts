import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type RunningAgent } from "@drover/agent";
import { VmState } from "@drover/proto";
import { defaultConfig, startScheduler, type RunningScheduler } from "@drover/scheduler";
import { createTestDatabase } from "@drover/store/testing";
import { apiClient, type ApiClient } from "../support/clients.js";
import { NATS_URL } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

const URI = "qemu:///system";
const virsh = (...args: string[]) => execFileSync("virsh", ["-c", URI, ...args], { encoding: "utf8" });

// A real VM on QEMU through libvirtd (KVM when /dev/kvm works, software emulation otherwise).
describe("end to end on qemu:///system", () => {
  let db: { url: string; drop(): Promise<void> };
  let scheduler: RunningScheduler;
  let agent: RunningAgent;
  let api: ApiClient;
  const stateDir = mkdtempSync(join(tmpdir(), "drover-e2e-"));

  beforeAll(async () => {
    db = await createTestDatabase();
    scheduler = await startScheduler(
      { ...defaultConfig, databaseUrl: db.url, natsUrl: NATS_URL, listen: "127.0.0.1:0", metricsListen: "", tickMs: 50 },
      () => {},
    );
    agent = await startAgent(
      { nodeName: "kvm-host", libvirtUri: URI, listen: "127.0.0.1:0", schedulerAddress: scheduler.address, heartbeatIntervalMs: 500, stateDir },
      { log: () => {} },
    );
    await agent.registered();
    api = apiClient(scheduler.address);
  });
  afterAll(async () => {
    api?.close();
    await agent?.stop();
    await scheduler?.stop();
    await db?.drop();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("runs a VM that virsh can see, and DeleteVm removes it", async () => {
    const node = await api.getNode("kvm-host");
    expect(node.capacity!.vcpus).toBeGreaterThan(0);

    const res = await api.createVms({
      template: vmSpec("e2e", 1, 128),
      count: 1,
    });
    const id = res.vms[0]!.id;
    const vm = await waitFor("VM RUNNING", async () => {
      const v = await api.getVm(id);
      if (v.state === VmState.VM_STATE_FAILED) throw new Error(`FAILED: ${v.reason}`);
      return v.state === VmState.VM_STATE_RUNNING ? v : undefined;
    }, 150_000);
    expect(vm.node).toBe("kvm-host");

    const domain = `e2e-${id.slice(0, 8)}`;
    expect(virsh("list", "--name").split("\n")).toContain(domain);
    expect(virsh("domuuid", domain).trim()).toBe(id);
    expect(virsh("domstate", domain).trim()).toBe("running");

    await api.deleteVm(id);
    await waitFor("VM DELETED", async () => ((await api.getVm(id)).state === VmState.VM_STATE_DELETED ? true : undefined), 150_000);
    expect(virsh("list", "--all", "--name").split("\n")).not.toContain(domain);
    // Software emulation (no usable /dev/kvm) makes QEMU start and stop slowly on this machine.
  }, 300_000);
});
