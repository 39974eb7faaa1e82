// The store's domain objects to and from the wire (drover.v1). The store
// knows nothing of proto; handlers convert here, and only here.
import { allocatable } from "@drover/placement";
import {
  AddressSource,
  NodeState,
  PlacementExplanation,
  PlacementPolicy,
  VmSpec,
  VmState,
  nodeStateFromJSON,
  vmStateFromJSON,
  type Node as NodeProto,
  type Timestamp,
  type Vm as VmProto,
  type VmInterface as VmInterfaceProto,
} from "@drover/proto";
import { microsOf, type Node, type NodeStateName, type Vm, type VmInterface, type VmStateName } from "@drover/store";

/** An agent's reported NIC as the store keeps it: lower-case MAC, sorted addresses, where they come from. */
export function interfaceFromProto(i: VmInterfaceProto): VmInterface {
  const out: VmInterface = { mac: i.mac.toLowerCase(), addresses: [...i.addresses].sort() };
  if (i.source === AddressSource.ADDRESS_SOURCE_DHCP_LEASE) out.source = "dhcp";
  else if (i.source === AddressSource.ADDRESS_SOURCE_STATIC) out.source = "static";
  return out;
}

export function interfaceToProto(i: VmInterface): VmInterfaceProto {
  // Rows from before sources were reported hold DHCP leases, the only kind there was.
  const source = i.addresses.length === 0 ? AddressSource.ADDRESS_SOURCE_UNSPECIFIED : i.source === "static" ? AddressSource.ADDRESS_SOURCE_STATIC : AddressSource.ADDRESS_SOURCE_DHCP_LEASE;
  return { mac: i.mac, addresses: i.addresses, source };
}

/** The store's name of a wire VmState; undefined for UNSPECIFIED and unknown values. */
export function vmStateName(s: VmState): VmStateName | undefined {
  // The binary decoder keeps an unknown number as it came (not UNRECOGNIZED), so look it up.
  const name = VmState[s] as string | undefined;
  if (s === VmState.VM_STATE_UNSPECIFIED || s === VmState.UNRECOGNIZED || name === undefined) return undefined;
  return name.replace("VM_STATE_", "") as VmStateName;
}

/** The store's name of a wire NodeState; undefined for UNSPECIFIED and unknown values. */
export function nodeStateName(s: NodeState): NodeStateName | undefined {
  const name = NodeState[s] as string | undefined;
  if (s === NodeState.NODE_STATE_UNSPECIFIED || s === NodeState.UNRECOGNIZED || name === undefined) return undefined;
  return name.replace("NODE_STATE_", "") as NodeStateName;
}

export const toVmState = (s: VmStateName): VmState => vmStateFromJSON(`VM_STATE_${s}`);
export const toNodeState = (s: NodeStateName): NodeState => nodeStateFromJSON(`NODE_STATE_${s}`);

/** A Timestamp to the microsecond Postgres keeps (the store reads timestamps with their microseconds). */
export function toTimestamp(d: Date): Timestamp {
  const ms = d.getTime();
  const seconds = Math.floor(ms / 1000);
  return { seconds, nanos: (ms - seconds * 1000) * 1_000_000 + microsOf(d) * 1000 };
}

export function vmToProto(vm: Vm): VmProto {
  return {
    id: vm.id,
    // user_data is write-only: it can hold secrets, and only the VM's agent needs it.
    spec: { ...VmSpec.fromJSON(vm.spec), userData: "" },
    project: vm.project,
    node: vm.node ?? "",
    state: toVmState(vm.state),
    reason: vm.reason,
    policy: PlacementPolicy.fromJSON(vm.policy),
    placement: vm.placement ? PlacementExplanation.fromJSON(vm.placement) : undefined,
    createdAt: toTimestamp(vm.createdAt),
    updatedAt: toTimestamp(vm.updatedAt),
    attempts: vm.attempts,
    interfaces: vm.interfaces.map(interfaceToProto),
  };
}

export function nodeToProto(node: Node, vmCount = 0): NodeProto {
  return {
    name: node.name,
    address: node.address,
    state: toNodeState(node.state),
    capacity: node.capacity,
    reserved: node.reserved,
    cpuAllocationRatio: node.ratios.cpu,
    memoryAllocationRatio: node.ratios.memory,
    diskAllocationRatio: node.ratios.disk,
    allocatable: allocatable(node),
    allocated: node.allocated,
    labels: node.labels,
    lastHeartbeat: toTimestamp(node.lastHeartbeat),
    generation: node.generation,
    vmCount,
    reason: node.reason,
  };
}
