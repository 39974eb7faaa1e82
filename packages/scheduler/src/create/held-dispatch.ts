import { VmSpec } from "@drover/proto";
import type { DispatchVm } from "@drover/store";
import type { ValidCreate } from "../api/validation.js";
import type { HeldSlots } from "../dispatch/held-slots.js";
import type { CreateDeps, Plan } from "./plan.js";

/**
 * Dispatcher slots for a plan's VMs, held before it commits, when the local dispatcher has room
 * for all of them (dispatcher.ts hold()); null: they commit SCHEDULED, for a dispatch pass.
 * A bulk committed in chunks never comes here (commit-in-chunks.ts): its VMs always commit SCHEDULED.
 */
export function holdSlots(deps: CreateDeps, plan: Plan): HeldSlots | null {
  if (!deps.dispatch || plan.vms.length === 0) return null;
  return deps.dispatch.hold(plan.vms.map((v) => v.placement.node));
}

/**
 * A committed plan's VMs as the dispatcher takes them (what takeDueProvisioning would have read):
 * attempt 1, on their READY nodes at the addresses the claim read (`addresses`).
 */
export function dispatchVms(plan: Plan, req: ValidCreate, addresses: ReadonlyMap<string, string>): DispatchVm[] {
  const groups = req.policy.groups;
  return plan.vms.map((v) => ({
    id: v.id,
    node: v.placement.node,
    spec: VmSpec.toJSON(v.spec),
    attempts: 1,
    groups,
    vcpus: v.spec.vcpus,
    memoryMib: v.spec.memoryMib,
    diskGib: v.spec.diskGib,
    nodeAddress: addresses.get(v.placement.node) ?? null,
    nodeState: "READY",
  }));
}
