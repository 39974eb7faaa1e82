import {
  NodeState,
  PlacementExplanation,
  PlacementPolicy,
  VmSpec,
  VmState,
  nodeStateFromJSON,
  vmStateFromJSON,
  type Node,
  type Resources,
  type Vm,
} from "@drover/proto";
import type { NodeRow, NodeStateName, VmRow, VmStateName } from "./rows.js";

export function vmStateName(s: VmState): VmStateName | undefined {
  if (s === VmState.VM_STATE_UNSPECIFIED || s === VmState.UNRECOGNIZED) return undefined;
  return VmState[s]!.replace("VM_STATE_", "") as VmStateName;
}

export function nodeStateName(s: NodeState): NodeStateName | undefined {
  if (s === NodeState.NODE_STATE_UNSPECIFIED || s === NodeState.UNRECOGNIZED) return undefined;
  return NodeState[s]!.replace("NODE_STATE_", "") as NodeStateName;
}

export const toVmState = (s: VmStateName): VmState => vmStateFromJSON(`VM_STATE_${s}`);
export const toNodeState = (s: NodeStateName): NodeState => nodeStateFromJSON(`NODE_STATE_${s}`);

export function vmToProto(row: VmRow): Vm {
  return {
    id: row.id,
    spec: VmSpec.fromJSON(row.spec),
    node: row.node ?? "",
    state: toVmState(row.state),
    reason: row.reason,
    policy: PlacementPolicy.fromJSON(row.policy),
    placement: row.placement ? PlacementExplanation.fromJSON(row.placement) : undefined,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    attempts: row.attempts,
  };
}

/** floor(capacity × ratio) − reserved, never below zero: the same rule as the claim's SQL. */
export function allocatableOf(row: NodeRow): Resources {
  return {
    vcpus: Math.max(0, Math.floor(row.vcpus * row.cpu_ratio) - row.reserved_vcpus),
    memoryMib: Math.max(0, Math.floor(row.memory_mib * row.memory_ratio) - row.reserved_memory_mib),
    diskGib: Math.max(0, Math.floor(row.disk_gib * row.disk_ratio) - row.reserved_disk_gib),
  };
}

export function nodeToProto(row: NodeRow, vmCount = 0): Node {
  return {
    name: row.name,
    address: row.address,
    state: toNodeState(row.state),
    capacity: { vcpus: row.vcpus, memoryMib: row.memory_mib, diskGib: row.disk_gib },
    reserved: { vcpus: row.reserved_vcpus, memoryMib: row.reserved_memory_mib, diskGib: row.reserved_disk_gib },
    cpuAllocationRatio: row.cpu_ratio,
    memoryAllocationRatio: row.memory_ratio,
    diskAllocationRatio: row.disk_ratio,
    allocatable: allocatableOf(row),
    allocated: { vcpus: row.alloc_vcpus, memoryMib: row.alloc_memory_mib, diskGib: row.alloc_disk_gib },
    labels: row.labels,
    lastHeartbeat: row.last_heartbeat,
    generation: row.generation,
    vmCount,
  };
}
