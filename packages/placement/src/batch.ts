import type { GroupMembers, NodeSnapshot } from "./types.js";
import { WorkingNode, type BatchState } from "./working.js";

/**
 * Working nodes reused from call to call (placeBatch is synchronous and nothing keeps a working node
 * after it returns), so a full scan of a large cluster allocates nothing per node: fresh objects
 * for 50k nodes per call cost more in garbage collection than the scan itself. A working node
 * records the batch that last initialized it (`batch`), so checking it costs no extra memory access.
 */
const sharedPool: (WorkingNode | undefined)[] = [];
let generation = 0;
/** The anchors of a batch before placePass sets its own (shared: a ReadonlyMap is never written). */
const NO_ANCHORS: ReadonlyMap<string, WorkingNode> = new Map();

/**
 * The engine's batch state: the working copies of the nodes, built on first touch. A limited scan
 * touches only the nodes it looks at, so a single-VM decision does not pay for building every node.
 */
export class Batch implements BatchState {
  private all: WorkingNode[] | null = null;
  private readonly gen: number;
  affinityAnchor: ReadonlyMap<string, WorkingNode> = NO_ANCHORS;

  constructor(
    readonly snapshots: readonly NodeSnapshot[],
    /** PlacementOptions.groupMembers, or null: every working node of the batch counts groups from it. */
    readonly members: GroupMembers | null = null,
    /**
     * Where its working nodes live: the shared pool, or a batch's own (an empty array) when it must
     * outlive other batches, as a pass placed in steps does (placeBatchInSteps).
     */
    private readonly pool: (WorkingNode | undefined)[] = sharedPool,
  ) {
    // Dense (undefined-filled, not holey or sparse) so random first touches stay fast element stores.
    while (this.pool.length < snapshots.length) this.pool.push(undefined);
    this.gen = ++generation;
  }

  get size(): number {
    return this.snapshots.length;
  }

  /** The working copy of node i, (re)built from its snapshot on first touch in this batch. */
  node(i: number): WorkingNode {
    const pool = this.pool;
    let w = pool[i];
    if (w === undefined) {
      w = new WorkingNode(i, this.snapshots[i]!, this.gen, this.members);
      pool[i] = w;
    } else if (w.batch !== this.gen) {
      w.reset(i, this.snapshots[i]!, this.gen, this.members);
    }
    return w;
  }

  /** Every working node, in input order (builds the ones not touched yet). */
  get nodes(): readonly WorkingNode[] {
    if (this.all === null) {
      const all: WorkingNode[] = [];
      for (let i = 0; i < this.snapshots.length; i++) all.push(this.node(i));
      this.all = all;
    }
    return this.all;
  }
}
