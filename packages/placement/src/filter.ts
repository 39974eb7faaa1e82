import type { BatchState, WorkingNode } from "./working.js";
import type { VmRequest } from "./types.js";

/** How an explanation words one rejection reason: "10 nodes: <label> (<detail>)". */
export interface ReasonSpec {
  /** e.g. "insufficient memory". */
  readonly label: string;
  /**
   * The text in parentheses, from the VM and the nodes this reason rejected (e.g. "need 8192 MiB,
   * largest free among them 4096 MiB"). Absent: the label says it all (node states).
   */
  readonly detail?: (vm: VmRequest, rejected: readonly WorkingNode[], state: BatchState) => string;
}

/** Why one node cannot take one VM. Filters return shared constants, so rejecting allocates nothing. */
export interface Rejection<R extends string = string> {
  readonly reason: R;
}

/**
 * A feasibility check in the style of kube-scheduler filter plugins / Nomad feasibility checkers:
 * null means the node may take the VM. Must be pure and cheap: it runs once per node per VM.
 * A filter file types its object as `Filter<"reason_a" | "reason_b">`, so the compiler checks that
 * `reasons` words exactly the reasons `filter` returns; the registry derives the rest (RejectReason,
 * the explanation order and words) from it.
 */
export interface Filter<R extends string = string> {
  readonly name: string;
  /** Every reason `filter` can return and its words, in the order explanations break ties. */
  readonly reasons: { readonly [K in R]: ReasonSpec };
  filter(node: WorkingNode, vm: VmRequest, state: BatchState): Rejection<R> | null;
  /**
   * Optional shortcut: false means `filter` returns null on every node for this VM (e.g. the VM has
   * no constraints), so the engine may skip the filter for the whole scan. Absent means "always run".
   */
  applies?(vm: VmRequest): boolean;
}

/** Frozen rejection constant for a reason. */
export function rejection<R extends string>(reason: R): Rejection<R> {
  return Object.freeze({ reason });
}

/** The filters that can reject a node for this VM (`applies` does not rule them out), in their order. */
export function applicableFilters<F extends Pick<Filter, "applies">>(filters: readonly F[], vm: VmRequest): F[] {
  const out: F[] = [];
  for (const f of filters) if (f.applies === undefined || f.applies(vm)) out.push(f);
  return out;
}

/** The first rejection among `filters` (in their order), or null when the node passes them all. */
export function firstRejection<R extends string>(
  filters: readonly Pick<Filter<R>, "filter">[],
  node: WorkingNode,
  vm: VmRequest,
  state: BatchState,
): Rejection<R> | null {
  for (let f = 0; f < filters.length; f++) {
    const r = filters[f]!.filter(node, vm, state);
    if (r !== null) return r;
  }
  return null;
}

/** The largest `amount` among the nodes, 0 for none: the "largest free among them" of a resource detail. */
export function largestAmong(nodes: readonly WorkingNode[], amount: (node: WorkingNode) => number): number {
  let max = 0;
  for (const n of nodes) max = Math.max(max, amount(n));
  return max;
}
