import { allocatableOf } from "./resources.js";
import { fnv1a } from "./seed.js";
import type { GroupMembers, NodeSnapshot, NodeState, Resources } from "./types.js";

/**
 * The engine's private, mutable view of one node during a batch. Built once per batch so the
 * input snapshots stay untouched; flat numeric fields keep filters and scorers allocation-free
 * and give every instance the same hidden class.
 */
export class WorkingNode {
  /** The batch that last initialized this object (see the pool in batch.ts). */
  declare readonly batch: number;
  declare readonly index: number;
  declare readonly snapshot: NodeSnapshot;
  declare readonly name: string;
  declare readonly state: NodeState;
  declare readonly labels: Readonly<Record<string, string>>;
  /** Group counts already on the node before the batch. */
  declare readonly groups: Readonly<Record<string, number>>;
  /** The caller's group members (PlacementOptions.groupMembers): for the groups in it, they replace `groups`. */
  declare readonly members: GroupMembers | null;
  declare readonly allocCpu: number;
  declare readonly allocMem: number;
  declare readonly allocDisk: number;
  /** Allocated, including what this batch has placed so far. */
  declare usedCpu: number;
  declare usedMem: number;
  declare usedDisk: number;
  /** Allocated in the snapshot: kept here so a reset for an unchanged snapshot need not read it again. */
  declare private baseCpu: number;
  declare private baseMem: number;
  declare private baseDisk: number;
  /** Group members placed here by this batch; null until the first one (most nodes never get one). */
  declare batchGroups: Map<string, number> | null;
  /** FNV-1a of the name, computed on first use: only ties need it, so most nodes never hash their name. */
  declare private hash: number;

  constructor(index: number, snapshot: NodeSnapshot, batch = 0, members: GroupMembers | null = null) {
    this.reset(index, snapshot, batch, members);
  }

  /**
   * Re-initializes this object for another node (or another batch): the engine keeps a pool of
   * working nodes across calls so a scan over 50k nodes does not allocate 50k objects every time.
   */
  reset(index: number, snapshot: NodeSnapshot, batch = 0, members: GroupMembers | null = null): void {
    const self = this as Mutable<WorkingNode>;
    self.batch = batch;
    self.members = members;
    if (this.snapshot === snapshot && this.index === index) {
      // The same (immutable) snapshot as last time: only the batch's own bookings start over, from
      // copies held here, so a sampled scan touches this object only, not the snapshot's (a cache miss each).
      self.usedCpu = this.baseCpu;
      self.usedMem = this.baseMem;
      self.usedDisk = this.baseDisk;
      self.batchGroups = null;
      return;
    }
    self.index = index;
    self.snapshot = snapshot;
    self.name = snapshot.name;
    self.state = snapshot.state;
    self.labels = snapshot.labels;
    self.groups = snapshot.groups;
    const { capacity: c, ratios: r, reserved: z, allocated: a } = snapshot;
    self.allocCpu = allocatableOf(c.vcpus, r.cpu, z.vcpus);
    self.allocMem = allocatableOf(c.memoryMib, r.memory, z.memoryMib);
    self.allocDisk = allocatableOf(c.diskGib, r.disk, z.diskGib);
    this.baseCpu = self.usedCpu = a.vcpus;
    this.baseMem = self.usedMem = a.memoryMib;
    this.baseDisk = self.usedDisk = a.diskGib;
    self.batchGroups = null;
    this.hash = -1;
  }

  get nameHash(): number {
    if (this.hash < 0) this.hash = fnv1a(this.name);
    return this.hash;
  }

  freeCpu(): number {
    return Math.max(0, this.allocCpu - this.usedCpu);
  }
  freeMem(): number {
    return Math.max(0, this.allocMem - this.usedMem);
  }
  freeDisk(): number {
    return Math.max(0, this.allocDisk - this.usedDisk);
  }

  /** Members of `group` on this node: before the batch plus placed by it. */
  groupCount(group: string): number {
    // Two hash lookups: a node's cost does not depend on how many members the group has.
    const counts = this.members === null ? undefined : this.members.get(group);
    const before: unknown = counts === undefined ? this.groups[group] : counts.get(this.name);
    const n = typeof before === "number" ? before : 0;
    return this.batchGroups === null ? n : n + (this.batchGroups.get(group) ?? 0);
  }

  /** Books a placement into the working copy so the next VM of the batch sees less room. */
  take(r: Resources, groups: readonly (string | undefined)[]): void {
    this.usedCpu += r.vcpus;
    this.usedMem += r.memoryMib;
    this.usedDisk += r.diskGib;
    for (const g of groups) {
      if (g === undefined) continue;
      this.batchGroups ??= new Map();
      this.batchGroups.set(g, (this.batchGroups.get(g) ?? 0) + 1);
    }
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Batch-wide facts that filters and scorers may read besides the node itself. */
export interface BatchState {
  readonly nodes: readonly WorkingNode[];
  /**
   * Affinity group -> the node its members are pinned to: where members already run
   * (most members, then lowest name) or where this batch put the first one.
   */
  readonly affinityAnchor: ReadonlyMap<string, WorkingNode>;
}
