import type { BatchState, WorkingNode } from "./working.js";
import type { RejectReason, VmRequest } from "./types.js";

/** Why one node cannot take one VM. Filters return shared constants, so rejecting allocates nothing. */
export interface Rejection {
  readonly reason: RejectReason;
  /** Optional node-independent detail; the engine builds the usual details itself (see explain.ts). */
  readonly detail?: string;
}

/**
 * A feasibility check in the style of kube-scheduler filter plugins / Nomad feasibility checkers:
 * null means the node may take the VM. Must be pure and cheap: it runs once per node per VM.
 */
export interface Filter {
  readonly name: string;
  filter(node: WorkingNode, vm: VmRequest, state: BatchState): Rejection | null;
  /**
   * Optional shortcut: false means `filter` returns null on every node for this VM (e.g. the VM has
   * no constraints), so the engine may skip the filter for the whole scan. Absent means "always run".
   */
  applies?(vm: VmRequest): boolean;
}

/** Frozen rejection constant for a reason. */
export function rejection(reason: RejectReason): Rejection {
  return Object.freeze({ reason });
}

/** The filters that can reject a node for this VM (`applies` does not rule them out), in their order. */
export function applicableFilters(filters: readonly Filter[], vm: VmRequest): Filter[] {
  const out: Filter[] = [];
  for (const f of filters) if (f.applies === undefined || f.applies(vm)) out.push(f);
  return out;
}
