import { applicableFilters, firstRejection } from "./filter.js";
import { FILTERS, REASON_ORDER, REASONS, type RejectReason } from "./registry.js";
import type { ReasonCount, Unplaced, VmRequest } from "./types.js";
import type { BatchState, WorkingNode } from "./working.js";

/** e.g. "10 nodes: insufficient memory (need 8192 MiB, largest free among them 4096 MiB); 2 nodes: cordoned" */
export function formatReasons(reasons: readonly ReasonCount[]): string {
  return reasons
    .map((r) => {
      const head = `${r.nodes} ${r.nodes === 1 ? "node" : "nodes"}: ${REASONS[r.reason].label}`;
      return r.detail ? `${head} (${r.detail})` : head;
    })
    .join("; ");
}

/**
 * Why a VM fits nowhere: every node under the first filter that rejects it (so the counts add up to
 * the nodes), each reason worded by its filter from the nodes it rejected. A second pass over the
 * nodes, run only for VMs that did not fit, so the hot loop keeps no per-reason bookkeeping; the
 * nodes are as the scan saw them (nothing is placed in between), so it finds the scan's reasons.
 */
export function explainUnplaced(vm: VmRequest, state: BatchState): Unplaced {
  const rejected = new Map<RejectReason, WorkingNode[]>();
  const filters = applicableFilters(FILTERS, vm);
  for (const node of state.nodes) {
    const r = firstRejection(filters, node, vm, state);
    if (r === null) continue; // not for an unplaced VM: the scan found no feasible node
    const nodes = rejected.get(r.reason);
    if (nodes === undefined) rejected.set(r.reason, [node]);
    else nodes.push(node);
  }
  const reasons: ReasonCount[] = [];
  for (const reason of REASON_ORDER) {
    const nodes = rejected.get(reason);
    if (nodes !== undefined) reasons.push({ reason, nodes: nodes.length, detail: REASONS[reason].detail?.(vm, nodes, state) ?? "" });
  }
  reasons.sort((a, b) => b.nodes - a.nodes); // stable: equal counts keep filter order
  const message = reasons.length > 0 ? formatReasons(reasons) : "no nodes in the cluster";
  return { key: vm.key, reasons, message };
}
