// Types of the placement engine. Plain data in, plain data out: no I/O, no clock.
import type { RejectReason } from "./registry.js";

export interface Resources {
  vcpus: number;
  memoryMib: number;
  diskGib: number;
}

export type NodeState = "READY" | "CORDONED" | "DRAINING" | "DOWN" | "DEGRADED";

export interface AllocationRatios {
  cpu: number;
  memory: number;
  disk: number;
}

/** One host as the engine sees it: a snapshot taken before the decision. */
export interface NodeSnapshot {
  name: string;
  state: NodeState;
  /** Raw host size as libvirt reports it. */
  capacity: Resources;
  /** Held back for the host itself. */
  reserved: Resources;
  ratios: AllocationRatios;
  /** Sum of the claims already on the node. */
  allocated: Resources;
  labels: Readonly<Record<string, string>>;
  /** Group name -> how many members of that (anti-)affinity group already run here. */
  groups: Readonly<Record<string, number>>;
}

export type Strategy = "spread" | "pack";

/** A parsed label expression: used by hard constraints and soft preferences. */
export type LabelExpression =
  | { op: "eq"; key: string; value: string }
  | { op: "neq"; key: string; value: string }
  | { op: "in"; key: string; values: string[] }
  | { op: "notin"; key: string; values: string[] }
  | { op: "exists"; key: string }
  | { op: "notexists"; key: string };

/** One VM to place. */
export interface VmRequest {
  /** Stable id of this VM within the request (e.g. its UUID); feeds the tie-break seed. */
  key: string;
  resources: Resources;
  constraints: LabelExpression[];
  preferences: LabelExpression[];
  antiAffinityGroup?: string;
  affinityGroup?: string;
  softAntiAffinityGroup?: string;
}

export interface ScorerWeight {
  name: string;
  weight: number;
}

export interface PlacementOptions {
  strategy: Strategy;
  /** Seed of the deterministic tie-break; derive it from the request so a decision replays. */
  seed: string;
  /** Scorers other than the strategy's own, by registry name, with weights. Treated as immutable: the engine keeps the plan it builds from an array. */
  scorers?: ScorerWeight[];
  /**
   * Nomad-style candidate limiting: stop after this many feasible nodes, scanning in a seeded
   * per-VM pseudo-random order (start + k × stride mod n) so different VMs look at different nodes.
   * Default: every node is scored. See `defaultMaxCandidates` for the limit the scheduler should use.
   * Counts of an unplaced VM still cover every node (no node was feasible, so all were scanned).
   */
  maxCandidates?: number;
  /**
   * Members of (anti-)affinity groups per node, by group then node name: the scheduler passes its
   * group cache's maps as they are, instead of laying them over every snapshot that holds a member
   * (a group with 1,000 members cost 1,000 new snapshots per request). For a group named here,
   * these counts replace the snapshots' `groups` entries for it; names of nodes not in the input
   * are ignored. A hard affinity group's anchor is then found among its few nodes here, not by a
   * pass over every node. Read only, and not read after the call returns.
   */
  groupMembers?: GroupMembers;
}

/** Group name -> node name -> members of the group on that node (absent or 0: none). */
export type GroupMembers = ReadonlyMap<string, ReadonlyMap<string, number>>;

/** Why a node could not take a VM: derived from the filters' declared reasons (see registry.ts). */
export type { RejectReason } from "./registry.js";

export interface Placement {
  key: string;
  node: string;
  /** Weighted sum of the scorers, 0..100. */
  score: number;
  /** Each scorer's normalized 0..100 score on the winning node. */
  scores: Record<string, number>;
  /** Nodes that passed every filter, among the evaluated ones. */
  feasibleNodes: number;
  /**
   * Nodes the decision looked at one by one: every node for a full scan, the sample for a limited
   * one (`maxCandidates`), and for pack above 256 nodes the few the best-fit tree could not rule
   * out by its bounds (the rest cannot beat the chosen node); 1 for a member of an affinity group
   * that already has a node (no other node can take it).
   */
  evaluatedNodes: number;
}

export interface ReasonCount {
  reason: RejectReason;
  nodes: number;
  /** Human detail, e.g. "need 8192 MiB, largest free among them 4096 MiB" ("" when the reason says it all). */
  detail: string;
}

export interface Unplaced {
  key: string;
  reasons: ReasonCount[];
  /** e.g. "10 nodes: insufficient memory (need 8192 MiB, largest free among them 4096 MiB); 2 nodes: cordoned" */
  message: string;
}

export interface BatchResult {
  placements: Placement[];
  unplaced: Unplaced[];
}
