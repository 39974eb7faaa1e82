import { transitionVm, type Sql, type Vm } from "@drover/store";
import { mustGetVm } from "./read-vm.js";

export interface DeleteDeps {
  sql: Sql;
  /** Wakes the dispatcher to read the deletion queue now. */
  wakeDeletions(): void;
}

/**
 * Marks the VM DELETING for the dispatcher, which destroys the domain and releases the claim.
 * Deleting a VM that is already DELETING or DELETED changes nothing. A VM being dispatched (under
 * a lease) is deleted by the dispatcher that holds it, once its EnsureDomain returns; the deletion
 * queue takes it only when that lease would have run out (the holder died).
 */
export async function deleteVm(deps: DeleteDeps, id: string): Promise<Vm> {
  const vm = await mustGetVm(deps.sql, id);
  if (vm.state === "DELETED" || vm.state === "DELETING") return vm;
  // "after-dispatch" is decided by the update itself: a VM read PROVISIONING may be RUNNING by
  // then, its lease cleared, and nobody would delete it before that old lease ran out.
  const next = await transitionVm(
    deps.sql,
    vm.id,
    ["PENDING", "SCHEDULED", "PROVISIONING", "RUNNING", "STOPPED", "STOPPING", "PAUSED", "CRASHED", "FAILED", "LOST"],
    "DELETING",
    { dueAt: "after-dispatch" },
  );
  deps.wakeDeletions();
  return next ?? (await mustGetVm(deps.sql, id));
}
