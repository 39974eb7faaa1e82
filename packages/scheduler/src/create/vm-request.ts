import type { Placement, Resources, VmRequest } from "@drover/placement";
import type { ValidPolicy } from "../api/validation.js";

/** What the placement engine needs to know about one VM under a validated policy. */
export function toVmRequest(key: string, resources: Resources, policy: ValidPolicy): VmRequest {
  return {
    key,
    resources: { vcpus: resources.vcpus, memoryMib: resources.memoryMib, diskGib: resources.diskGib },
    constraints: policy.constraints,
    preferences: policy.preferences,
    antiAffinityGroup: policy.proto.antiAffinityGroup || undefined,
    affinityGroup: policy.proto.affinityGroup || undefined,
    softAntiAffinityGroup: policy.proto.softAntiAffinityGroup || undefined,
  };
}

/** The PlacementExplanation stored with a VM: why it is on its node. */
export function explanation(p: Placement) {
  return { node: p.node, totalScore: p.score, scores: p.scores, feasibleNodes: p.feasibleNodes, evaluatedNodes: p.evaluatedNodes };
}
