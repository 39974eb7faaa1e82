import type { NodeSnapshot } from "./types.js";

/** Changes the log keeps at least; a reader further behind than the log reaches checks every node. */
const MIN_LOG = 1024;

/**
 * A caller's node snapshots with a log of which positions changed: the scheduler's node cache
 * keeps one and replaces a node's snapshot with `set`, so the engine's best-fit tree catches up
 * by looking at the positions changed since its last call instead of comparing all 10,000
 * snapshots (that identity pass was ~3/4 of a pack decision's time at 10,000 hosts). The log is a
 * hint for the engine's caches only: a decision depends on the snapshots alone, so the engine
 * stays pure and a plain array gives the same result.
 * Names and order are fixed for the list's life (a changed node set is a new list).
 */
export class NodeList {
  private readonly items: NodeSnapshot[];
  /** Changed positions; entry k is change number `base + k`. */
  private log: Int32Array;
  private used = 0;
  private base = 0;

  constructor(snapshots: readonly NodeSnapshot[]) {
    this.items = snapshots.slice();
    this.log = new Int32Array(Math.max(MIN_LOG, snapshots.length));
  }

  /** The snapshots, in the list's fixed order. Read-only: change them with `set`. */
  get snapshots(): readonly NodeSnapshot[] {
    return this.items;
  }

  get length(): number {
    return this.items.length;
  }

  /** Count of changes so far: pass it to `changesSince` later. */
  get version(): number {
    return this.base + this.used;
  }

  /** Replaces the snapshot at position i (the node's name stays the same). */
  set(i: number, snapshot: NodeSnapshot): void {
    if (!(i >= 0 && i < this.items.length)) throw new RangeError(`node position ${i} is outside 0..${this.items.length - 1}`);
    if (snapshot.name !== this.items[i]!.name) throw new Error(`node position ${i} holds "${this.items[i]!.name}", not "${snapshot.name}"`);
    this.items[i] = snapshot;
    // A full log starts over: readers older than that check every node once.
    if (this.used === this.log.length) {
      this.base += this.used;
      this.used = 0;
    }
    this.log[this.used++] = i;
  }

  /** Positions changed since `version` (repeats possible), or null when the log no longer reaches back that far. */
  changesSince(version: number): Int32Array | null {
    if (version < this.base || version > this.version) return null;
    return this.log.subarray(version - this.base, this.used);
  }
}
