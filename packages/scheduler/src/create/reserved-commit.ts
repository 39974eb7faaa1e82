import { VmState, type CreateVmsResponse } from "@drover/proto";
import type { ValidCreate } from "../api/validation.js";
import { materialize, reserve, type CreateDeps, type Plan, type PlannedVm } from "./plan.js";
import { placeOnView } from "./place-on-view.js";

/**
 * The frame every way of committing a request shares: placed on the cached view (with its groups'
 * members), counted into it at once so concurrent requests see the room taken, then committed by
 * `commit`; a commit that throws takes the count back out, one that returns SCHEDULED VMs tells
 * the loop a VM is due (VMs committed PROVISIONING went to the dispatcher with their slots).
 */
export async function placeAndCommit(
  deps: CreateDeps,
  planned: PlannedVm[],
  req: ValidCreate,
  hash: string,
  commit: (plan: Plan) => Promise<CreateVmsResponse>,
): Promise<CreateVmsResponse> {
  const plan = materialize(await placeOnView(deps, planned, req, hash), planned);
  const reservation = reserve(deps, plan, req);
  try {
    const response = await commit(plan);
    if (response.vms.some((v) => v.state === VmState.VM_STATE_SCHEDULED)) deps.onScheduled();
    return response;
  } catch (err) {
    reservation.undo();
    throw err;
  }
}
