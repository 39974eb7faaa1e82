// Builders for tests and benchmarks: a node or VM with sensible defaults and targeted overrides.
import type { NodeSnapshot, Resources, VmRequest } from "./types.js";
import { WorkingNode, type BatchState } from "./working.js";

export type NodeInit = Partial<Omit<NodeSnapshot, "capacity" | "reserved" | "allocated" | "ratios">> & {
  capacity?: Partial<Resources>;
  reserved?: Partial<Resources>;
  allocated?: Partial<Resources>;
  ratios?: Partial<NodeSnapshot["ratios"]>;
};

/** A READY node with 16 vCPUs, 65536 MiB, 1000 GiB, nothing reserved, ratios 1, nothing allocated. */
export function makeNode(name: string, init: NodeInit = {}): NodeSnapshot {
  return {
    name,
    state: init.state ?? "READY",
    capacity: { vcpus: 16, memoryMib: 65536, diskGib: 1000, ...init.capacity },
    reserved: { vcpus: 0, memoryMib: 0, diskGib: 0, ...init.reserved },
    ratios: { cpu: 1, memory: 1, disk: 1, ...init.ratios },
    allocated: { vcpus: 0, memoryMib: 0, diskGib: 0, ...init.allocated },
    labels: init.labels ?? {},
    groups: init.groups ?? {},
  };
}

export type VmInit = Partial<Omit<VmRequest, "key" | "resources">> & { resources?: Partial<Resources> };

/** A 2 vCPU / 4096 MiB / 20 GiB VM with no constraints. */
export function makeVm(key: string, init: VmInit = {}): VmRequest {
  const { resources, ...rest } = init;
  return {
    key,
    constraints: [],
    preferences: [],
    ...rest,
    resources: { vcpus: 2, memoryMib: 4096, diskGib: 20, ...resources },
  };
}

/** A working node as filters and scorers see it, built from the same defaults as {@link makeNode}. */
export function makeWorking(name: string, init: NodeInit = {}, index = 0): WorkingNode {
  return new WorkingNode(index, makeNode(name, init));
}

/** Batch state over the given working nodes, with optional affinity anchors (group -> node). */
export function makeState(nodes: WorkingNode[] = [], anchors: Record<string, WorkingNode> = {}): BatchState {
  return { nodes, affinityAnchor: new Map(Object.entries(anchors)) };
}
