// The agent's view of its domains, kept as it goes: every change the agent makes (EnsureDomain,
// Start, Stop, Reboot, Destroy) and every change a full listing observes is recorded here, so a
// heartbeat sends these states without asking libvirt. (Relisting after every call cost 4 libvirt
// calls per domain per call: a bulk of 4,000 VMs onto 4 hosts starved the heartbeats for 21 s and
// every node went DOWN.)
import type { DomainStatus } from "@drover/proto";
import type { DomainSnapshot } from "./libvirt.js";

/**
 * Domain states with generations. One counter serves every domain; it starts at the boot time in
 * ms x 1000, so generations only grow, also across agent restarts (short of 1,000 changes per ms
 * sustained over the agent's life, or the clock going back between two boots).
 */
export class DomainStates {
  private readonly byId = new Map<string, DomainStatus>();
  /** Domains the agent destroyed, with the generation of that change, until a listing after it. */
  private readonly removed = new Map<string, number>();
  /** VMs in an ACPI reboot: their domain is off for a moment, which is no state change to report. */
  private readonly held = new Map<string, number>();
  private clock: number;

  constructor(bootTimeMs = Date.now()) {
    this.clock = bootTimeMs * 1000;
  }

  /** Records what a change the agent made left (a new generation even when the state is the same). */
  made(s: DomainSnapshot): DomainStatus {
    const status = toStatus(s, ++this.clock);
    this.byId.set(s.uuid, status);
    this.removed.delete(s.uuid);
    return status;
  }

  /** The agent removed the domain. */
  gone(vmId: string): void {
    this.byId.delete(vmId);
    this.removed.set(vmId, ++this.clock);
  }

  /**
   * Until the returned function is called, listings leave the VM's state as the agent last recorded
   * it: an ACPI reboot powers the domain off and starts it again, and a listing in between must not
   * report the VM STOPPED. The agent records what the reboot left when it is done.
   */
  hold(vmId: string): () => void {
    this.held.set(vmId, (this.held.get(vmId) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = this.held.get(vmId)! - 1;
      if (left === 0) this.held.delete(vmId);
      else this.held.set(vmId, left);
    };
  }

  /** Call before a full listing; hand the result to {@link replaceAll}. */
  mark(): number {
    return this.clock;
  }

  /**
   * Applies a full listing begun at `since`: a state that differs is an observed change (new
   * generation), a domain not listed is gone. Domains the agent changed or removed while the
   * listing ran keep what the agent recorded: the listing may have read them before.
   */
  replaceAll(listed: readonly DomainSnapshot[], since: number): void {
    const seen = new Set<string>();
    for (const s of listed) {
      seen.add(s.uuid);
      const current = this.byId.get(s.uuid);
      if ((current?.generation ?? 0) > since || (this.removed.get(s.uuid) ?? 0) > since || this.held.has(s.uuid)) continue;
      if (current && current.state === s.state && current.name === s.name && current.reason === (s.reason ?? "")) continue;
      this.byId.set(s.uuid, toStatus(s, ++this.clock));
    }
    for (const [vmId, status] of this.byId) {
      if (!seen.has(vmId) && status.generation <= since && !this.held.has(vmId)) this.byId.delete(vmId);
    }
    for (const [vmId, generation] of this.removed) if (generation <= since) this.removed.delete(vmId);
  }

  /** What is recorded for this domain now (undefined: none, or it is gone). */
  get(vmId: string): DomainStatus | undefined {
    return this.byId.get(vmId);
  }

  list(): DomainStatus[] {
    return [...this.byId.values()];
  }

  get size(): number {
    return this.byId.size;
  }
}

function toStatus(s: DomainSnapshot, generation: number): DomainStatus {
  return { vmId: s.uuid, name: s.name, state: s.state, reason: s.reason ?? "", interfaces: [], reportInterfaces: false, generation };
}
