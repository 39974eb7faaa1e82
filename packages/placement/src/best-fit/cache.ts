import { FULL_SCAN_NODES } from "../candidates.js";
import type { NodeList } from "../node-list.js";
import type { NodeSnapshot } from "../types.js";
import type { WorkingNode } from "../working.js";
import { FitTree } from "./tree.js";

/**
 * The best-fit tree of a caller's node array, kept from call to call like validate.ts's check of
 * the names: the scheduler passes the same array every time and replaces the snapshots that
 * changed, so a call updates only their leaves. Finding them is one identity comparison per node
 * (~1 ns each), far cheaper than scoring every node, but at 10,000 nodes still ~3/4 of a call: a
 * caller that keeps a {@link NodeList} lets the tree look only at the positions its log says
 * changed. Trees are a cache: a decision is the same with a fresh one, so purity and replay are
 * unaffected.
 */
const trees = new WeakMap<readonly NodeSnapshot[], TrackedTree>();

/**
 * The tree for these nodes, in step with their snapshots (and with none of an earlier batch's
 * bookings), or null when a full scan is as good: small clusters, or numbers the tree cannot bound.
 */
export function bestFitTree(nodes: readonly NodeSnapshot[], list?: NodeList): TrackedTree | null {
  if (nodes.length <= FULL_SCAN_NODES) return null;
  let t = trees.get(nodes);
  if (t === undefined || t.tree.n !== nodes.length) {
    t = new TrackedTree(nodes);
    trees.set(nodes, t);
    t.caughtUp(list);
  } else {
    t.sync(nodes, list);
  }
  return t.tree.usable ? t : null;
}

/** A tree and the snapshots its leaves were computed from. */
export class TrackedTree {
  readonly tree: FitTree;
  /** The snapshot each leaf holds; undefined once a batch booked into it (so the next sync recomputes it). */
  private readonly seen: (NodeSnapshot | undefined)[];
  private readonly dirty: number[] = [];
  private readonly changed: Int32Array;
  /** The list and its version the leaves were last synced to (undefined: synced from a plain array). */
  private list: NodeList | undefined;
  private version = 0;

  constructor(nodes: readonly NodeSnapshot[]) {
    this.tree = new FitTree(nodes);
    this.seen = nodes.slice();
    this.changed = new Int32Array(nodes.length);
  }

  /** Records that the leaves hold `list`'s current snapshots. */
  caughtUp(list: NodeList | undefined): void {
    this.list = list;
    this.version = list?.version ?? 0;
  }

  /**
   * Brings the leaves back to the snapshots in `nodes`: the positions `list` logged since the last
   * sync when it can tell (the leaves were synced to it and its log reaches back), else one pass of
   * identity checks over every node, the cost of a call on a large cluster.
   */
  sync(nodes: readonly NodeSnapshot[], list?: NodeList): void {
    const seen = this.seen;
    const since = list !== undefined && list === this.list ? list.changesSince(this.version) : null;
    this.caughtUp(list);
    let c = 0;
    for (const i of this.dirty) seen[i] = undefined;
    if (since !== null) {
      for (const i of this.dirty) c = this.check(nodes, i, c);
      for (let k = 0; k < since.length; k++) c = this.check(nodes, since[k]!, c);
    } else {
      c = this.scan(nodes);
    }
    this.dirty.length = 0;
    if (c === 0) return;
    const tree = this.tree;
    const changed = this.changed;
    if (tree.stale) tree.reorder();
    else if (c === 1) tree.raiseOnly(changed[0]!);
    else tree.raiseAll(changed, c);
  }

  /** Checks every node's snapshot; returns how many changed. */
  private scan(nodes: readonly NodeSnapshot[]): number {
    const seen = this.seen;
    const n = nodes.length;
    let c = 0;
    let i = 0;
    // Four nodes per step: most steps find all four unchanged, and one branch for four is ~1.5x faster.
    for (; i + 4 <= n; i += 4) {
      if (nodes[i] === seen[i] && nodes[i + 1] === seen[i + 1] && nodes[i + 2] === seen[i + 2] && nodes[i + 3] === seen[i + 3]) continue;
      for (let k = i; k < i + 4; k++) c = this.check(nodes, k, c);
    }
    for (; i < n; i++) c = this.check(nodes, i, c);
    return c;
  }

  /**
   * Takes node k's snapshot into its leaf if it changed; returns the count of changed nodes so far.
   * A node enters `changed` at most once: after its first check its snapshot is the one seen.
   */
  private check(nodes: readonly NodeSnapshot[], k: number, c: number): number {
    const s = nodes[k]!;
    if (s === this.seen[k]) return c;
    this.seen[k] = s;
    this.tree.setFromSnapshot(k, s);
    this.changed[c] = k;
    return c + 1;
  }

  /** Books a placement the batch made on `node` into its leaf, so the batch's next VM sees it. */
  booked(node: WorkingNode): void {
    const i = node.index;
    this.tree.set(
      i,
      node.state === "READY",
      node.allocCpu,
      node.allocCpu - node.usedCpu,
      node.allocMem,
      node.allocMem - node.usedMem,
      node.allocDisk,
      node.allocDisk - node.usedDisk,
    );
    this.tree.raiseOnly(i); // the tree was up to date before this booking
    this.dirty.push(i);
  }
}
