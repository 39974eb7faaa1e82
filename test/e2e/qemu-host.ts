// Shared by the end-to-end tests on qemu:///system.
import { chmodSync, mkdtempSync } from "node:fs";
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
