// Row shapes as postgres.js returns them (snake_case columns, int8 as number),
// and the one mapper per table to the domain types (domain.ts). Nothing
// outside the store sees a row.
import type { CreateRequest, Node, NodeCapacity, NodeStateName, Vm, VmInterface, VmStateName } from "./domain.js";

/** A nodes row joined with its heartbeat (`h.at AS last_heartbeat`). */
export interface NodeRow {
  name: string;
  address: string;
  state: NodeStateName;
  vcpus: number;
  memory_mib: number;
  disk_gib: number;
  reserved_vcpus: number;
  reserved_memory_mib: number;
  reserved_disk_gib: number;
  cpu_ratio: number;
  memory_ratio: number;
  disk_ratio: number;
  alloc_vcpus: number;
  alloc_memory_mib: number;
  alloc_disk_gib: number;
  labels: Record<string, string>;
  last_heartbeat: Date;
  state_before_down: NodeStateName | null;
  reason: string;
  generation: number;
  created_at: Date;
}

/** The columns of a nodes row that placement reads (listNodeCapacities, readNodeCapacities), as SQL. */
export const NODE_CAPACITY_COLUMNS = `name, state, vcpus, memory_mib, disk_gib, reserved_vcpus, reserved_memory_mib, reserved_disk_gib,
  cpu_ratio, memory_ratio, disk_ratio, alloc_vcpus, alloc_memory_mib, alloc_disk_gib, labels`;

/** The columns of a nodes row that placement reads (NODE_CAPACITY_COLUMNS). */
export type NodeCapacityRow = Pick<
  NodeRow,
  "name" | "state" | "vcpus" | "memory_mib" | "disk_gib" | "reserved_vcpus" | "reserved_memory_mib" | "reserved_disk_gib" | "cpu_ratio" | "memory_ratio" | "disk_ratio" | "alloc_vcpus" | "alloc_memory_mib" | "alloc_disk_gib" | "labels"
>;

export interface VmRow {
  id: string;
  name: string;
  spec: unknown;
  policy: unknown;
  vcpus: number;
  memory_mib: number;
  disk_gib: number;
  groups: string[];
  node: string | null;
  claimed: boolean;
  state: VmStateName;
  reason: string;
  /** The placement explanation of rows written before migration 042 (jsonb); null since. */
  placement: unknown;
  /** The placement explanation (json, migration 042); null in rows written before it. */
  explanation: unknown;
  attempts: number;
  failed_nodes: string[];
  due_at: Date;
  lease_until: Date | null;
  request_id: string | null;
  project: string;
  created_at: Date;
  updated_at: Date;
  interfaces: VmInterface[];
}

export interface CreateRequestRow {
  id: string;
  idempotency_key: string | null;
  request_hash: string;
  vm_ids: string[];
  unplaced: number;
  unplaced_reason: string;
}

export function nodeCapacityFromRow(r: NodeCapacityRow): NodeCapacity {
  return {
    name: r.name,
    state: r.state,
    capacity: { vcpus: r.vcpus, memoryMib: r.memory_mib, diskGib: r.disk_gib },
    reserved: { vcpus: r.reserved_vcpus, memoryMib: r.reserved_memory_mib, diskGib: r.reserved_disk_gib },
    ratios: { cpu: r.cpu_ratio, memory: r.memory_ratio, disk: r.disk_ratio },
    allocated: { vcpus: r.alloc_vcpus, memoryMib: r.alloc_memory_mib, diskGib: r.alloc_disk_gib },
    labels: r.labels,
  };
}

export function nodeFromRow(r: NodeRow): Node {
  return {
    ...nodeCapacityFromRow(r),
    address: r.address,
    lastHeartbeat: r.last_heartbeat,
    stateBeforeDown: r.state_before_down,
    reason: r.reason,
    generation: r.generation,
    createdAt: r.created_at,
  };
}

const isObject = (spec: unknown): spec is Record<string, unknown> => spec !== null && typeof spec === "object" && !Array.isArray(spec);

/**
 * A VM's spec with its name: the row's name column (scheduledVmsInsert stores the spec its VMs
 * share, without the name, as sent: building a jsonb with each row's name was ~10 % of a bulk's
 * row inserts). Rows from before hold the same name in both.
 */
export function namedSpec(spec: unknown, name: string): unknown {
  return isObject(spec) ? { ...spec, name } : spec;
}

/** A spec as a row stores it: without the name, which the row's name column holds (namedSpec's inverse). */
export function unnamedSpec(spec: unknown): unknown {
  if (!isObject(spec)) return spec;
  const rest = { ...spec };
  delete rest.name;
  return rest;
}

export function vmFromRow(r: VmRow): Vm {
  return {
    id: r.id,
    name: r.name,
    spec: namedSpec(r.spec, r.name),
    policy: r.policy,
    vcpus: r.vcpus,
    memoryMib: r.memory_mib,
    diskGib: r.disk_gib,
    groups: r.groups,
    node: r.node,
    claimed: r.claimed,
    state: r.state,
    reason: r.reason,
    placement: r.explanation ?? r.placement,
    attempts: r.attempts,
    failedNodes: r.failed_nodes,
    dueAt: r.due_at,
    leaseUntil: r.lease_until,
    requestId: r.request_id,
    project: r.project,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    interfaces: r.interfaces ?? [],
  };
}

export function requestFromRow(r: CreateRequestRow): CreateRequest {
  return {
    id: r.id,
    idempotencyKey: r.idempotency_key,
    requestHash: r.request_hash,
    vmIds: r.vm_ids,
    unplaced: r.unplaced,
    unplacedReason: r.unplaced_reason,
  };
}
