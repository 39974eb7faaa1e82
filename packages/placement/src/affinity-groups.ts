import type { Batch } from "./batch.js";
import { nodeIndex } from "./node-index.js";
import type { Resources, VmRequest } from "./types.js";
import type { WorkingNode } from "./working.js";

/** The request a new affinity group is ranked with: summed resources, every member's constraints. */
export function combined(unit: readonly VmRequest[]): VmRequest {
  const first = unit[0]!;
  const resources: Resources = { vcpus: 0, memoryMib: 0, diskGib: 0 };
  for (const m of unit) {
    resources.vcpus += m.resources.vcpus;
    resources.memoryMib += m.resources.memoryMib;
    resources.diskGib += m.resources.diskGib;
  }
  return { ...first, resources, constraints: unit.flatMap((m) => m.constraints) };
}

/**
 * Affinity groups of the batch that already run somewhere: pinned to the node with most members
 * (then lowest name). A group in `state.members` (PlacementOptions.groupMembers) is looked up
 * among its own nodes there; only groups not in it need the pass over every node's snapshot.
 */
export function existingAnchors(state: Batch, vms: readonly VmRequest[]): Map<string, WorkingNode> {
  const anchors = new Map<string, WorkingNode>();
  if (!vms.some(hasAffinityGroup)) return anchors; // the common case: no Set to build
  const wanted = new Set<string>();
  for (const vm of vms) if (vm.affinityGroup) wanted.add(vm.affinityGroup);
  const members = state.members;
  if (members !== null) {
    for (const g of wanted) {
      const counts = members.get(g);
      if (counts === undefined) continue;
      wanted.delete(g);
      const anchor = anchorAmong(state, counts);
      if (anchor !== null) anchors.set(g, anchor);
    }
    if (wanted.size === 0) return anchors;
  }
  for (const node of state.nodes) {
    for (const g in node.groups) {
      if (!wanted.has(g) || !Object.hasOwn(node.groups, g)) continue;
      const c = node.groups[g]!;
      if (!(c > 0)) continue;
      const cur = anchors.get(g);
      if (cur === undefined) {
        anchors.set(g, node);
        continue;
      }
      const cc = cur.groups[g]!;
      if (c > cc || (c === cc && node.name < cur.name)) anchors.set(g, node);
    }
  }
  return anchors;
}

/** The node of `counts` (node name -> members) with most members, then lowest name; null when none is in the batch's nodes. */
function anchorAmong(state: Batch, counts: ReadonlyMap<string, number>): WorkingNode | null {
  const index = nodeIndex(state.snapshots);
  let best: string | null = null;
  let bestCount = 0;
  let bestIndex = -1;
  for (const [name, c] of counts) {
    if (!(c > 0)) continue;
    const i = index.get(name);
    if (i === undefined) continue;
    if (c > bestCount || (c === bestCount && best !== null && name < best)) {
      best = name;
      bestCount = c;
      bestIndex = i;
    }
  }
  return bestIndex < 0 ? null : state.node(bestIndex);
}

function hasAffinityGroup(vm: VmRequest): boolean {
  return !!vm.affinityGroup;
}
