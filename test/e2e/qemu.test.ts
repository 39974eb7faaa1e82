import { execFileSync } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningAgent } from "@drover/agent";
import { run } from "@drover/cli";
import { VmState } from "@drover/proto";
import type { RunningScheduler } from "@drover/scheduler";
import type { ApiClient } from "../support/clients.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";
import { START_WITHIN_MS, qemuStateDir, startQemuHost, type QemuHost } from "./qemu-host.js";

const URI = "qemu:///system";
const virsh = (...args: string[]) => execFileSync("virsh", ["-c", URI, ...args], { encoding: "utf8" });
const mode = (path: string) => statSync(path).mode & 0o7777;

// A real VM on QEMU through libvirtd (KVM when QEMU can use /dev/kvm, software emulation otherwise),
// with a disk and cloud-init user data, so QEMU must reach the agent's files.
describe("end to end on qemu:///system", () => {
  let host: QemuHost;
  let scheduler: RunningScheduler;
  let agent: RunningAgent;
  let api: ApiClient;
  const stateDir = qemuStateDir("drover-e2e-");
  const created: string[] = [];

  beforeAll(async () => {
    host = await startQemuHost({ node: "kvm-host", stateDir, created, agent: { heartbeatIntervalMs: 500 } });
    ({ scheduler, agent, api } = host);
    // A healthy host: QEMU can reach the state dir, libvirtd answers fast, console logs are rotated.
    expect(agent.warnings).toEqual([]);
  });
  afterAll(() => host?.stop());

  it("runs a VM with a disk and user data that virsh can see, and DeleteVm removes it", async () => {
    const node = await api.getNode("kvm-host");
    expect(node.capacity!.vcpus).toBeGreaterThan(0);
    expect(node.labels["drover.io/domain-type"]).toBe(agent.domainType);

    const res = await api.createVms({
      template: vmSpec("e2e", 1, 128, { diskGib: 1, userData: "#cloud-config\npassword: not-for-others\n" }),
      count: 1,
    });
    const id = res.vms[0]!.id;
    created.push(id);
    const vm = await waitFor("VM RUNNING or FAILED", async () => {
      const v = await api.getVm(id);
      return v.state === VmState.VM_STATE_RUNNING || v.state === VmState.VM_STATE_FAILED ? v : undefined;
    }, START_WITHIN_MS);
    expect({ state: vm.state, reason: vm.reason }).toMatchObject({ state: VmState.VM_STATE_RUNNING });
    expect(vm.node).toBe("kvm-host");

    const domain = `e2e-${id}`;
    expect(virsh("list", "--name").split("\n")).toContain(domain);
    expect(virsh("domuuid", domain).trim()).toBe(id);
    expect(virsh("domstate", domain).trim()).toBe("running");
    // QEMU got at the files (libvirt hands them to its user while the domain runs), and nobody else may read them.
    expect(mode(join(stateDir, "disks", `${id}.qcow2`))).toBe(0o600);
    expect(mode(join(stateDir, "seeds", `${id}.iso`))).toBe(0o600);

    // The serial console is logged on the host and read through the scheduler: SeaBIOS writes to
    // it (useserial), then finds nothing to boot on the blank disk.
    const drover = async (...argv: string[]) => {
      let out = "";
      let err = "";
      const code = await run(argv, { DROVER_ADDR: scheduler.address, DROVER_INSECURE: "1", HOME: "/nonexistent-drover-home" }, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
      return { code, out, err };
    };
    const log = await waitFor("SeaBIOS booting on the console", async () => {
      const r = await drover("vm", "console-log", id);
      return r.code === 0 && r.out.includes("Booting from") ? r.out : undefined;
      // The firmware writes after the domain is RUNNING; on a loaded 2-core box SeaBIOS took ~18 s to get there.
    }, 2 * START_WITHIN_MS);
    expect(log).toMatch(/SeaBIOS[\s\S]*Booting from Hard Disk/);
    // virtlogd writes it (as root, 0600) and rotates it at its max_size (2 MiB by default).
    expect(mode(join(stateDir, "consoles", `${id}.log`))).toBe(0o600);
    // --follow goes on until the VM's domain is gone.
    let followed = "";
    let followErr = "";
    const following = run(["vm", "console-log", id, "--follow"], { DROVER_ADDR: scheduler.address, DROVER_INSECURE: "1", HOME: "/nonexistent-drover-home" }, { stdout: (t) => (followed += t), stderr: (t) => (followErr += t) });
    // Delete only once the stream is open: GetConsoleLog refuses a VM that is already DELETING.
    await waitFor("the followed console", async () => (followed.includes("SeaBIOS") ? true : undefined), START_WITHIN_MS);

    await api.deleteVm(id);
    await waitFor("VM DELETED", async () => ((await api.getVm(id)).state === VmState.VM_STATE_DELETED ? true : undefined), START_WITHIN_MS);
    expect(virsh("list", "--all", "--name").split("\n")).not.toContain(domain);
    expect({ code: await following, stderr: followErr }).toEqual({ code: 0, stderr: "" });
    expect(followed).toContain("SeaBIOS");
  }, 2 * START_WITHIN_MS + 10_000);
});
