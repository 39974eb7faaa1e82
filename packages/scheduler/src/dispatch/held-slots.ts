import type { DispatchVm } from "@drover/store";

/**
 * Dispatcher slots held for the VMs of one create before it commits, so that they commit
 * PROVISIONING, leased to this replica, and go to their agents at once: no dispatch pass has to
 * take them (takeDueProvisioning, one more row update a VM). Held slots count like VMs in flight,
 * against the dispatcher's concurrency and its per-node limit, from hold() on.
 */
export interface HeldSlots {
  /** The lease the VMs commit under: the dispatcher's, as a pass would have taken them. */
  readonly leaseMs: number;
  /** The VMs committed, one per node held and in that order: each is dispatched now. */
  start(vms: readonly DispatchVm[]): void;
  /** The commit failed: the slots go back. */
  release(): void;
}

/** Where a create asks for slots (the local dispatcher). */
export interface SlotHolder {
  /**
   * Slots for VMs on `nodes` (one entry a VM), or null when the dispatcher has no room for them
   * all now, or work may be waiting in the queue for it: then they commit SCHEDULED, as before.
   */
  hold(nodes: readonly string[]): HeldSlots | null;
}
