import type { NodeSnapshot } from "@drover/placement";
import { sumClaimsByNode, type Claim, type Sql } from "@drover/store";
import { takeSnapshot } from "./snapshot.js";

/** A claim counted into the cached view before its transaction ended; undo() takes it back out. */
export interface Reservation {
  undo(): void;
}

/**
 * This replica's view of node capacity, like Nova's host state cache: read
 * from Postgres at most every ttlMs (or at once after invalidate()), and
 * updated in memory with this replica's own placements so concurrent
 * requests see each other. A stale view is safe: claims are conditional in
 * Postgres (a conflict invalidates the view and the request is placed again),
 * and a request is only refused on a fresh view.
 */
export class NodeCache {
  private nodes: NodeSnapshot[] | undefined;
  private indexOf = new Map<string, number>();
  private loadedAt = 0;
  private loading: Promise<NodeSnapshot[]> | undefined;
  /** Bumped on every reload, so an undo never touches a newer view. */
  private version = 0;

  constructor(
    private readonly sql: Sql,
    private readonly ttlMs: number,
  ) {}

  /** The current view; re-read when older than the TTL, invalidated, or `fresh` is asked for. */
  async get(fresh = false): Promise<NodeSnapshot[]> {
    if (!fresh && this.nodes && performance.now() - this.loadedAt < this.ttlMs) return this.nodes;
    // Concurrent callers share one read.
    this.loading ??= takeSnapshot(this.sql, [])
      .then((nodes) => {
        this.nodes = nodes;
        this.indexOf = new Map(nodes.map((n, i) => [n.name, i]));
        this.loadedAt = performance.now();
        this.version++;
        return nodes;
      })
      .finally(() => (this.loading = undefined));
    return this.loading;
  }

  invalidate(): void {
    this.nodes = undefined;
  }

  /** Counts claims into the view now (before they commit), so the next request sees the room taken. */
  reserve(claims: Claim[]): Reservation {
    const version = this.version;
    const sums = sumClaimsByNode(claims);
    this.apply(sums, 1);
    return { undo: () => version === this.version && this.apply(sums, -1) };
  }

  private apply(claims: Claim[], sign: 1 | -1): void {
    if (!this.nodes) return;
    for (const c of claims) {
      const i = this.indexOf.get(c.node);
      const node = i === undefined ? undefined : this.nodes[i];
      if (i === undefined || !node) continue;
      // Snapshots are replaced, never mutated: the engine treats its input as immutable.
      this.nodes[i] = {
        ...node,
        allocated: {
          vcpus: node.allocated.vcpus + sign * c.vcpus,
          memoryMib: node.allocated.memoryMib + sign * c.memoryMib,
          diskGib: node.allocated.diskGib + sign * c.diskGib,
        },
      };
    }
  }
}
