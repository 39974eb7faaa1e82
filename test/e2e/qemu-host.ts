// Shared by the end-to-end tests on qemu:///system.
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunningAgent } from "@drover/agent";

/**
 * A domain start must be RUNNING within this. Healthy, it takes under a second (KVM or software
 * emulation alike); with a /dev/kvm QEMU cannot open, libvirtd re-probes QEMU on every define and a
 * start takes ~35 s: the tests fail on that rather than wait it out.
 */
export const START_WITHIN_MS = 15_000;

/** A state dir QEMU's user (libvirt-qemu) can enter: mkdtemp makes 0700, which fails every disk. */
export function qemuStateDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o711);
  return dir;
}

/**
 * Prints which domain type the host runs VMs with and why, so an emulated run says so; fails at
 * once, with the agent's fix, when libvirtd answers so slowly that every start would take tens of
 * seconds (then waiting for START_WITHIN_MS only to fail, and for the starts in flight, takes minutes).
 */
export function announceDomainType(agent: RunningAgent): void {
  console.log(`${agent.name}: domain type ${agent.domainType}: ${agent.domainTypeReason}`);
  if (agent.libvirtProbe?.slow) throw new Error(agent.warnings.join("\n"));
}

/** kill -9 of the QEMU process that runs the VM's domain; its pid, to tell the next QEMU from it. */
export function killQemu(vmId: string): number {
  const name = execFileSync("virsh", ["-q", "-c", "qemu:///system", "domname", vmId], { encoding: "utf8" }).trim();
  const pid = Number(readFileSync(`/run/libvirt/qemu/${name}.pid`, "utf8").trim());
  process.kill(pid, "SIGKILL");
  return pid;
}

/** The pid of the QEMU running the VM's domain now, or undefined while none runs. */
export function qemuPid(vmId: string): number | undefined {
  try {
    const name = execFileSync("virsh", ["-q", "-c", "qemu:///system", "domname", vmId], { encoding: "utf8" }).trim();
    if (!execFileSync("virsh", ["-q", "-c", "qemu:///system", "domstate", vmId], { encoding: "utf8" }).startsWith("running")) return undefined;
    return Number(readFileSync(`/run/libvirt/qemu/${name}.pid`, "utf8").trim());
  } catch {
    return undefined;
  }
}

/**
 * Destroys and undefines the test's domains, whatever state they are in. A failed
 * assertion skips DeleteVm, and QEMU would run on with its files gone.
 */
export function removeDomains(uri: string, ids: Iterable<string>): void {
  for (const id of ids) {
    for (const cmd of ["destroy", "undefine"]) {
      try {
        execFileSync("virsh", ["-c", uri, cmd, id], { stdio: "ignore" });
      } catch {
        // already gone: the test deleted it
      }
    }
  }
}
