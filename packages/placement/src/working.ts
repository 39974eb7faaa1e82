import { allocatableOf } from "./resources.js";
import { fnv1a } from "./seed.js";
import type { NodeSnapshot, NodeState, Resources } from "./types.js";

/**
 * The engine's private, mutable view of one node during a batch. Built once per batch so the
 * input snapshots stay untouched; flat numeric fields keep filters and scorers allocation-free
 * and give every instance the same hidden class.
 */
export class WorkingNode {
  readonly index!: number;
  readonly snapshot!: NodeSnapshot;
  readonly name!: string;
  readonly state!: NodeState;
  readonly labels!: Readonly<Record<string, string>>;
  /** Group counts already on the node before the batch. */
  readonly groups!: Readonly<Record<string, number>>;
  readonly allocCpu!: number;
  readonly allocMem!: number;
  readonly allocDisk!: number;
  /** Allocated, including what this batch has placed so far. */
  usedCpu!: number;
  usedMem!: number;
  usedDisk!: number;
  /** Group members placed here by this batch; null until the first one (most nodes never get one). */
  batchGroups!: Map<string, number> | null;
  /** FNV-1a of the name, computed on first use: only ties need it, so most nodes never hash their name. */
  private hash!: number;

  constructor(index: number, snapshot: NodeSnapshot) {
    this.reset(index, snapshot);
  }

  /**
   * Re-initializes this object for another node (or another batch): the engine keeps a pool of
   * working nodes across calls so a scan over 50k nodes does not allocate 50k objects every time.
   */
  reset(index: number, snapshot: NodeSnapshot): void {
    const self = this as Mutable<WorkingNode>;
    if (this.snapshot === snapshot && this.index === index) {
      // The same (immutable) snapshot as last time: only the batch's own bookings start over.
      const a = snapshot.allocated;
      self.usedCpu = a.vcpus;
      self.usedMem = a.memoryMib;
      self.usedDisk = a.diskGib;
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
    self.usedCpu = a.vcpus;
    self.usedMem = a.memoryMib;
    self.usedDisk = a.diskGib;
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
    const before: unknown = this.groups[group];
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
