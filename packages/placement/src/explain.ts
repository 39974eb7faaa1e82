import { formatLabelExpression } from "./labels.js";
import type { ReasonCount, RejectReason, Resources, VmRequest } from "./types.js";

const LABELS: Record<RejectReason, string> = {
  node_not_ready: "not ready",
  cordoned: "cordoned",
  draining: "draining",
  down: "down",
  insufficient_cpu: "insufficient cpu",
  insufficient_memory: "insufficient memory",
  insufficient_disk: "insufficient disk",
  label_constraint: "label constraint",
  anti_affinity: "anti-affinity",
  affinity: "affinity",
};

/** e.g. "10 nodes: insufficient memory (need 8192 MiB, largest free 4096 MiB); 2 nodes: cordoned" */
export function formatReasons(reasons: readonly ReasonCount[]): string {
  return reasons
    .map((r) => {
      const head = `${r.nodes} ${r.nodes === 1 ? "node" : "nodes"}: ${LABELS[r.reason] ?? r.reason}`;
      return r.detail ? `${head} (${r.detail})` : head;
    })
    .join("; ");
}

/** What the engine knows when a VM did not fit, for the per-reason details. */
export interface ExplainContext {
  /** Largest free amount per resource among nodes that passed the state filter. */
  largestFree: Resources;
  /** Node the VM's affinity group is pinned to, if any. */
  affinityNode?: string;
}

const vcpus = (n: number) => `${n} ${n === 1 ? "vCPU" : "vCPUs"}`;

/** Detail of one reason; "" when the reason says it all (node states). */
export function reasonDetail(reason: RejectReason, vm: VmRequest, ctx: ExplainContext): string {
  const need = vm.resources;
  const free = ctx.largestFree;
  switch (reason) {
    case "insufficient_cpu":
      return `need ${vcpus(need.vcpus)}, largest free ${vcpus(free.vcpus)}`;
    case "insufficient_memory":
      return `need ${need.memoryMib} MiB, largest free ${free.memoryMib} MiB`;
    case "insufficient_disk":
      return `need ${need.diskGib} GiB, largest free ${free.diskGib} GiB`;
    case "label_constraint":
      return vm.constraints.map(formatLabelExpression).join(", ");
    case "anti_affinity":
      return `group ${vm.antiAffinityGroup ?? ""}`;
    case "affinity":
      return ctx.affinityNode ? `group ${vm.affinityGroup ?? ""} is on ${ctx.affinityNode}` : `group ${vm.affinityGroup ?? ""}`;
    default:
      return "";
  }
}
