// VM truth on real QEMU (issue 11, 5 and 6): what Drover says about a VM whose QEMU is killed, whose
// domain is paused, destroyed and undefined behind its back, lost with its node, or slow to stop.
// Before: a kill -9 was a plain STOPPED with no reason and a drover.vm.stopped event, a paused
// domain stayed RUNNING, a vanished STOPPED VM kept its claim and StartVm said NOT_FOUND, LOST VMs
// whose node came back without their domains stayed LOST, and a graceful StopVm answered STOPPED
// while the guest ran on.
//
// The VMs are blank (no disk, no OS): QEMU runs SeaBIOS with nothing to boot, which is all a crash,
// a pause or an undefine needs, and a guest that ignores the ACPI button, which a stop timeout needs.
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import type { RunningAgent } from "@drover/agent";
import { VmState, type Vm } from "@drover/proto";
import type { Sql } from "@drover/store";
import { outboxEvents } from "@drover/store/testing";
import type { ApiClient } from "../support/clients.js";
import { rejects, vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";
import { killQemu, qemuPid, qemuStateDir, startQemuHost, type QemuHost } from "./qemu-host.js";

const URI = "qemu:///system";
const virsh = (...args: string[]) => execFileSync("virsh", ["-q", "-c", URI, ...args], { encoding: "utf8" }).trim();
const NODE = "truth-host";
/** Long enough for a relist (500 ms), a beat (300 ms) and a restart on a loaded machine. */
const WITHIN_MS = 20_000;

/**
 * Destroys and undefines the domain behind Drover's back: undefined first (a running domain goes on
 * as a transient one), so no listing in between sees it shut off.
 */
function vanish(vmId: string): void {
  const running = virsh("domstate", vmId).startsWith("running");
  virsh("undefine", vmId);
  if (running) virsh("destroy", vmId);
}

describe("VM truth on qemu:///system", () => {
  let host: QemuHost;
  let sql: Sql;
  let agent: RunningAgent;
  let api: ApiClient;
  const stateDir = qemuStateDir("drover-truth-");
  const created: string[] = [];

  beforeAll(async () => {
    host = await startQemuHost({
      node: NODE,
      stateDir,
      created,
      scheduler: { heartbeatIntervalMs: 500, heartbeatTimeoutMs: 2000, restartLimit: 1, restartBackoffMs: 200, stopTimeoutMs: 3000 },
      agent: { relistIntervalMs: 500 },
    });
    ({ sql, agent, api } = host);
  });
  afterAll(() => host?.stop());

  async function runningVm(name: string, restartPolicy = ""): Promise<Vm> {
    const [vm] = (await api.createVms({ template: vmSpec(name, 1, 128, { restartPolicy }), count: 1 })).vms;
    created.push(vm!.id);
    await waitState(vm!.id, VmState.VM_STATE_RUNNING);
    return api.getVm(vm!.id);
  }
  const waitState = (id: string, state: VmState, ms = WITHIN_MS) =>
    waitFor(`VM ${id} ${VmState[state]}`, async () => {
      const vm = await api.getVm(id);
      return vm.state === state ? vm : undefined;
    }, ms);
  const events = async (id: string) =>
    (await outboxEvents(sql)).filter((e) => e.payload.vmId === id).map((e) => e.subject);
  const allocatedMib = async () => (await api.getNode(NODE)).allocated!.memoryMib;
  const deleteVm = async (id: string) => {
    await api.deleteVm(id);
    await waitState(id, VmState.VM_STATE_DELETED);
  };

  it("refuses an unknown restart policy naming the field, and shows the default one", async () => {
    const err = await rejects(api.createVms({ template: vmSpec("bad", 1, 128, { restartPolicy: "sometimes" }), count: 1 }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toBe('template.restart_policy: must be one of never, on-crash, always (empty: on-crash), got "sometimes"');
    const vm = await runningVm("dflt");
    expect(vm.spec!.restartPolicy).toBe("on-crash");
    expect((await api.listVms()).vms.find((v) => v.id === vm.id)!.spec!.restartPolicy).toBe("on-crash");
    await deleteVm(vm.id);
  });

  it("a kill -9 of QEMU is a crash (CRASHED, its reason, drover.vm.crashed); restart policy never leaves it there, StartVm starts it", async () => {
    const vm = await runningVm("crash-never", "never");
    killQemu(vm.id);
    const crashed = await waitState(vm.id, VmState.VM_STATE_CRASHED);
    expect(crashed.reason).toBe(`crashed on node ${NODE} (libvirt: shut off (crashed)); restart policy never leaves it CRASHED (StartVm starts it)`);
    expect(await events(vm.id)).toContain("drover.vm.crashed");
    expect(await events(vm.id)).not.toContain("drover.vm.stopped");
    // It stays CRASHED (no restart) and keeps its claim.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await api.getVm(vm.id)).state).toBe(VmState.VM_STATE_CRASHED);
    expect(await allocatedMib()).toBe(128);
    expect((await api.startVm(vm.id)).state).toBe(VmState.VM_STATE_RUNNING);
    expect(virsh("domstate", vm.id)).toBe("running");
    await deleteVm(vm.id);
  });

  it("restart policy on-crash starts a crashed VM again, and a crash loop ends FAILED with its claim released", async () => {
    const vm = await runningVm("crash-loop", "on-crash");
    const first = killQemu(vm.id);
    await waitState(vm.id, VmState.VM_STATE_CRASHED);
    // Restarted after the backoff: RUNNING on a new QEMU, the reason saying why.
    const back = await waitFor("a new QEMU", async () => {
      const pid = qemuPid(vm.id);
      const v = await api.getVm(vm.id);
      return pid !== undefined && pid !== first && v.state === VmState.VM_STATE_RUNNING ? v : undefined;
    }, WITHIN_MS);
    expect(back.reason).toMatch(/^crashed on node truth-host \(libvirt: shut off \(crashed\)\); restart policy on-crash starts it again in 0\.2 s \(restart 1 of 1\)$/);
    // The limit is 1 restart per window: the next crash is the end.
    killQemu(vm.id);
    const failed = await waitState(vm.id, VmState.VM_STATE_FAILED);
    expect(failed.reason).toMatch(/^restart policy gave up: 2 crashes within 600 s \(limit 1\); last: crashed on node truth-host/);
    expect(await allocatedMib()).toBe(0);
    // The FAILED VM's domain is a stray: the agent destroys it.
    await waitFor("the domain destroyed", async () => (virsh("list", "--all", "--uuid").includes(vm.id) ? undefined : true), WITHIN_MS);
    const subjects = await events(vm.id);
    expect(subjects.filter((s) => s === "drover.vm.crashed")).toHaveLength(2);
    expect(subjects.at(-1)).toBe("drover.vm.failed");
  });

  it("a domain shut off outside Drover: restart policy always starts it again, on-crash leaves it STOPPED with the reason", async () => {
    const always = await runningVm("off-always", "always");
    const onCrash = await runningVm("off-oncrash", "on-crash");
    const pid = qemuPid(always.id);
    virsh("destroy", always.id);
    virsh("destroy", onCrash.id);
    const off = await waitState(onCrash.id, VmState.VM_STATE_STOPPED);
    expect(off.reason).toBe(`domain shut off on node ${NODE} (libvirt: shut off (destroyed)) without a StopVm`);
    const back = await waitFor("the always VM on a new QEMU", async () => {
      const p = qemuPid(always.id);
      const v = await api.getVm(always.id);
      return p !== undefined && p !== pid && v.state === VmState.VM_STATE_RUNNING ? v : undefined;
    }, WITHIN_MS);
    expect(back.reason).toMatch(/^domain shut off on node truth-host \(libvirt: shut off \(destroyed\)\); restart policy always starts it again in 0\.2 s \(restart 1 of 1\)$/);
    await deleteVm(always.id);
    await deleteVm(onCrash.id);
  });

  it("a paused domain is PAUSED, and RUNNING again once resumed", async () => {
    const vm = await runningVm("pause");
    virsh("suspend", vm.id);
    const paused = await waitState(vm.id, VmState.VM_STATE_PAUSED);
    expect(paused.reason).toBe(`domain paused on node ${NODE}`);
    virsh("resume", vm.id);
    await waitState(vm.id, VmState.VM_STATE_RUNNING);
    // StartVm resumes a paused VM too.
    virsh("suspend", vm.id);
    await waitState(vm.id, VmState.VM_STATE_PAUSED);
    expect((await api.startVm(vm.id)).state).toBe(VmState.VM_STATE_RUNNING);
    expect(virsh("domstate", vm.id)).toBe("running");
    expect(await events(vm.id)).toEqual(expect.arrayContaining(["drover.vm.paused", "drover.vm.running"]));
    await deleteVm(vm.id);
  });

  it("a RUNNING VM whose domain vanished is re-created; a STOPPED one stays STOPPED and StartVm re-creates it; under never it is FAILED", async () => {
    const ran = await runningVm("vanish-run");
    const stopped = await runningVm("vanish-off");
    const never = await runningVm("vanish-never", "never");
    await api.stopVm(stopped.id, true);
    // The vanished check waits out a grace of 10 s after each VM's last change.
    for (const vm of [ran, stopped, never]) vanish(vm.id);
    const gone = 30_000;
    await waitFor("the RUNNING VM's domain re-created", async () => {
      const v = await api.getVm(ran.id);
      return v.state === VmState.VM_STATE_RUNNING && virsh("domstate", ran.id) === "running" && v.reason.includes("vanished") ? true : undefined;
    }, gone);
    const off = await waitFor("the STOPPED VM's reason", async () => {
      const v = await api.getVm(stopped.id);
      return v.reason.includes("vanished") ? v : undefined;
    }, gone);
    expect(off.state).toBe(VmState.VM_STATE_STOPPED);
    expect(off.reason).toBe(`domain vanished from node ${NODE} (destroyed and undefined outside Drover, or its host or agent lost it); StartVm re-creates it from its spec`);
    const failed = await waitState(never.id, VmState.VM_STATE_FAILED, gone);
    expect(failed.reason).toMatch(/vanished.*restart policy never: not re-created$/);
    // Claims: the re-created and the STOPPED VM keep theirs, the FAILED one is released.
    expect(await allocatedMib()).toBe(256);
    // StartVm of a VM Drover has is never NOT_FOUND: the domain is made again from the spec.
    expect((await api.startVm(stopped.id)).state).toBe(VmState.VM_STATE_RUNNING);
    expect(virsh("domstate", stopped.id)).toBe("running");
    await deleteVm(ran.id);
    await deleteVm(stopped.id);
    await deleteVm(never.id);
    expect(await allocatedMib()).toBe(0);
  });

  it("LOST VMs whose node comes back without their domains are re-created (or FAILED under never), never LOST for good", async () => {
    const ran = await runningVm("lost-run");
    const never = await runningVm("lost-never", "never");
    agent.pauseHeartbeats();
    try {
      await waitState(ran.id, VmState.VM_STATE_LOST);
      await waitState(never.id, VmState.VM_STATE_LOST);
      for (const vm of [ran, never]) vanish(vm.id);
    } finally {
      agent.resumeHeartbeats();
    }
    await waitFor("the LOST VM re-created", async () => {
      const v = await api.getVm(ran.id);
      return v.state === VmState.VM_STATE_RUNNING && virsh("domstate", ran.id) === "running" ? true : undefined;
    }, 30_000);
    const failed = await waitState(never.id, VmState.VM_STATE_FAILED, 30_000);
    expect(failed.reason).toMatch(/vanished.*restart policy never/);
    expect(await allocatedMib()).toBe(128);
    await deleteVm(ran.id);
    await deleteVm(never.id);
  });

  it("a graceful stop is STOPPING until the guest is off; a guest that ignores it leaves the VM RUNNING with the reason; force always forces", async () => {
    const vm = await runningVm("stop");
    // This guest has no OS to hear the ACPI button.
    expect((await api.stopVm(vm.id)).state).toBe(VmState.VM_STATE_STOPPING);
    expect(virsh("domstate", vm.id)).toBe("running");
    const timedOut = await waitState(vm.id, VmState.VM_STATE_RUNNING, 10_000);
    expect(timedOut.reason).toBe("the guest did not power off within 3 s of the ACPI shutdown (StopVm); it still runs: stop it with force");
    const subjects = await events(vm.id);
    expect(subjects.slice(-2)).toEqual(["drover.vm.stopping", "drover.vm.running"]);

    // STOPPING until the domain is really off (here: off behind Drover's back), then STOPPED.
    expect((await api.stopVm(vm.id)).state).toBe(VmState.VM_STATE_STOPPING);
    virsh("destroy", vm.id);
    await waitState(vm.id, VmState.VM_STATE_STOPPED, 5000);

    // Force from STOPPING.
    await api.startVm(vm.id);
    expect((await api.stopVm(vm.id)).state).toBe(VmState.VM_STATE_STOPPING);
    expect((await api.stopVm(vm.id, true)).state).toBe(VmState.VM_STATE_STOPPED);
    expect(virsh("domstate", vm.id)).toMatch(/^shut off/);

    // Force of a VM that looks STOPPED while its domain runs (a report that has not come yet).
    // (A report generation above any the agent makes holds the heartbeats off this VM meanwhile.)
    await sql`UPDATE vms SET state = 'STOPPED', report_generation = 8000000000000000 WHERE id = ${vm.id}`;
    virsh("start", vm.id);
    expect((await api.stopVm(vm.id, true)).state).toBe(VmState.VM_STATE_STOPPED);
    expect(virsh("domstate", vm.id)).toMatch(/^shut off/);
    await deleteVm(vm.id);
  });
});
