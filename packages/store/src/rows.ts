// Row shapes as postgres.js returns them (snake_case columns, int8 as number).

export type NodeStateName = "READY" | "CORDONED" | "DRAINING" | "DOWN";
export type VmStateName =
  | "PENDING"
  | "SCHEDULED"
  | "PROVISIONING"
  | "RUNNING"
  | "STOPPED"
  | "DELETING"
  | "DELETED"
  | "FAILED"
  | "LOST";

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
  /** The state a DOWN node returns to when it heartbeats again. */
  state_before_down: NodeStateName | null;
  generation: number;
  created_at: Date;
}

/** The spec and policy are stored as the proto JSON of VmSpec / PlacementPolicy. */
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
  placement: unknown;
  attempts: number;
  failed_nodes: string[];
  due_at: Date;
  lease_until: Date | null;
  request_id: string | null;
  created_at: Date;
  updated_at: Date;
}

/** VM states whose resources stay claimed on their node. */
export const CLAIMING_STATES: readonly VmStateName[] = [
  "SCHEDULED",
  "PROVISIONING",
  "RUNNING",
  "STOPPED",
  "DELETING",
  "LOST",
];
