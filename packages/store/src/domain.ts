// What the store hands out and takes in: camelCase domain objects, Date
// timestamps, states as string unions. Rows stay inside the store (rows.ts).

export type NodeStateName = "READY" | "CORDONED" | "DRAINING" | "DOWN" | "DEGRADED";
export type VmStateName =
  | "PENDING"
  | "SCHEDULED"
  | "PROVISIONING"
  | "RUNNING"
  | "STOPPED"
  | "DELETING"
  | "DELETED"
  | "FAILED"
  | "LOST"
  | "STOPPING"
  | "PAUSED"
  | "CRASHED";

export interface Resources {
  vcpus: number;
  memoryMib: number;
  diskGib: number;
}

export interface AllocationRatios {
  cpu: number;
  memory: number;
  disk: number;
}

export interface Node {
  name: string;
  /** host:port of the node's agent. */
  address: string;
  state: NodeStateName;
  /** Host size as the agent reported it. */
  capacity: Resources;
  /** Held back for the host itself. */
  reserved: Resources;
  ratios: AllocationRatios;
  /** Sum of the claims of the node's VMs. */
  allocated: Resources;
  labels: Record<string, string>;
  lastHeartbeat: Date;
  /** The state a DOWN or DEGRADED node returns to when it is healthy again. */
  stateBeforeDown: NodeStateName | null;
  /** Why the node is in its state when that is no operator's choice (DEGRADED: libvirt unreachable); else "". */
  reason: string;
  /** Bumped on every change of the node's row. */
  generation: number;
  createdAt: Date;
}

/** What placement reads of a node: its state, capacity, ratios, reservation, allocation and labels. */
export type NodeCapacity = Pick<Node, "name" | "state" | "capacity" | "reserved" | "ratios" | "allocated" | "labels">;

/** `spec`, `policy` and `placement` are the proto JSON of VmSpec, PlacementPolicy and PlacementExplanation. */
/** One NIC of a VM: its MAC and the CIDR addresses its host sees for it. */
/** Where a reported address comes from: a DHCP lease the host saw, or the spec's static address. */
export type AddressSourceName = "dhcp" | "static";

export interface VmInterface {
  mac: string;
  addresses: string[];
  /** Absent in rows written before sources were reported (they were all DHCP leases). */
  source?: AddressSourceName;
}

export interface Vm {
  id: string;
  name: string;
  spec: unknown;
  policy: unknown;
  vcpus: number;
  memoryMib: number;
  diskGib: number;
  /** Members of these (anti-)affinity groups count while claimed. */
  groups: string[];
  node: string | null;
  /** True while the VM's resources are counted in its node's allocated. */
  claimed: boolean;
  state: VmStateName;
  reason: string;
  placement: unknown;
  attempts: number;
  /** Nodes where dispatch already failed; the next attempt avoids them. */
  failedNodes: string[];
  /** Background work (dispatch, delete) is due at this time. */
  dueAt: Date;
  /** A dispatcher holds the VM until this time; after it, another may take over. */
  leaseUntil: Date | null;
  requestId: string | null;
  /** The project that owns the VM. */
  project: string;
  createdAt: Date;
  updatedAt: Date;
  /** Its NICs and their addresses, as its node last reported them. */
  interfaces: VmInterface[];
}

/** A CreateVms request as recorded: what was asked (by hash), what was created, what was not. */
export interface CreateRequest {
  id: string;
  idempotencyKey: string | null;
  requestHash: string;
  vmIds: string[];
  unplaced: number;
  unplacedReason: string;
}
