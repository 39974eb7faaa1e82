import { NodeList, type NodeSnapshot } from "@drover/placement";
import { readNodeCapacities, sumClaimsByNode, type Claim, type NodeCapacity, type Sql } from "@drover/store";

/** A claim counted into the cached view before its transaction ended; undo() takes it back out. */
export interface Reservation {
  undo(): void;
}

/** How often the cache reads every node even though its reads of changed rows found nothing amiss. */
export const FULL_READ_EVERY_MS = 30_000;

/**
 * This replica's view of node capacity, like Nova's host state cache: read
 * from Postgres at most every ttlMs (or at once after invalidate()), and
 * updated in memory with this replica's own placements so concurrent
 * requests see each other. A stale view is safe: claims are conditional in
 * Postgres (a conflict invalidates the view and the request is placed again),
 * and a request is only refused on a fresh view.
 * The view is a NodeList: the engine reads from its change log which nodes changed since its last
 * call instead of checking all of them (at 10,000 nodes that check was most of a pack decision).
 * A reload reads only the rows written since the last read (readNodeCapacities: by transaction id,
 * so a late commit is not missed) and the nodes this replica reserved on meanwhile (their
 * snapshots hold claims that may never commit), and sets only the snapshots whose numbers changed.
 * After it the view equals a read of every node. It reads every node instead when nodes went or
 * came (the list is by name, fixed), and every fullEveryMs as a safety net for writes the
 * trigger did not see (session_replication_role = replica skips triggers).
 */
export class NodeCache {
  private nodes: NodeList | undefined;
  /** The last list read, kept across invalidate() so a reload can update it in place. */
  private last: NodeList | undefined;
  private indexOf = new Map<string, number>();
  private loadedAt = 0;
  private loading: Promise<NodeList> | undefined;
  /** Bumped on every reload, so an undo never touches a newer view. */
  private version = 0;
  /** Where the next read of changed rows starts (the last read's snapshot xmin); undefined: read every node. */
  private cursor: string | undefined;
  private fullReadAt = 0;
  /** Nodes whose snapshots reserve() changed since the last read: the next read resets them. */
  private reserved = new Set<string>();

  constructor(
    private readonly sql: Sql,
    private readonly ttlMs: number,
    private readonly fullEveryMs = FULL_READ_EVERY_MS,
  ) {}

  /** The current view; re-read when older than the TTL, invalidated, or `fresh` is asked for. */
  async get(fresh = false): Promise<NodeList> {
    if (!fresh && this.nodes && performance.now() - this.loadedAt < this.ttlMs) return this.nodes;
    // Concurrent callers share one read.
    this.loading ??= this.reload()
      .then((list) => {
        this.nodes = this.last = list;
        this.loadedAt = performance.now();
        this.version++;
        return list;
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

  private async reload(): Promise<NodeList> {
    const last = this.last;
    const due = performance.now() - this.fullReadAt >= this.fullEveryMs;
    if (last === undefined || this.cursor === undefined || due) return this.readAll();
    const reserved = [...this.reserved];
    this.reserved.clear();
    try {
      const read = await readNodeCapacities(this.sql, this.cursor, reserved);
      const at = read.nodes.map((n) => this.indexOf.get(n.name));
      if (read.total !== last.length || at.includes(undefined)) return await this.readAll();
      read.nodes.forEach((n, k) => setIfChanged(last, at[k]!, toSnapshot(n)));
      this.cursor = read.cursor;
      return last;
    } catch (err) {
      this.cursor = undefined; // the reserved nodes were not reset: the next read is a full one
      throw err;
    }
  }

  private async readAll(): Promise<NodeList> {
    this.cursor = undefined;
    this.reserved.clear();
    const read = await readNodeCapacities(this.sql, null);
    const nodes = read.nodes.map(toSnapshot);
    const list = this.last !== undefined && updateInPlace(this.last, nodes) ? this.last : new NodeList(nodes);
    if (list !== this.last) this.indexOf = new Map(nodes.map((n, i) => [n.name, i]));
    this.cursor = read.cursor;
    this.fullReadAt = performance.now();
    return list;
  }

  private apply(claims: Claim[], sign: 1 | -1): void {
    if (!this.nodes) return;
    for (const c of claims) {
      const i = this.indexOf.get(c.node);
      const node = i === undefined ? undefined : this.nodes.snapshots[i];
      if (i === undefined || !node) continue;
      this.reserved.add(c.node);
      // Snapshots are replaced, never mutated: the engine treats its input as immutable.
      this.nodes.set(i, {
        ...node,
        allocated: {
          vcpus: node.allocated.vcpus + sign * c.vcpus,
          memoryMib: node.allocated.memoryMib + sign * c.memoryMib,
          diskGib: node.allocated.diskGib + sign * c.diskGib,
        },
      });
    }
  }
}

/** The node cache's snapshots name no groups (group-cache.ts counts members per request). */
function toSnapshot(n: NodeCapacity): NodeSnapshot {
  return { ...n, groups: {} };
}

function setIfChanged(list: NodeList, i: number, n: NodeSnapshot): void {
  if (!sameSnapshot(list.snapshots[i]!, n)) list.set(i, n);
}

/**
 * Sets into `list` the snapshots of `nodes` that differ from its own; false (nothing set) when
 * the nodes are not the list's (names or order changed: the caller makes a new list).
 */
function updateInPlace(list: NodeList, nodes: readonly NodeSnapshot[]): boolean {
  const old = list.snapshots;
  if (old.length !== nodes.length || nodes.some((n, i) => n.name !== old[i]!.name)) return false;
  nodes.forEach((n, i) => setIfChanged(list, i, n));
  return true;
}

function sameSnapshot(a: NodeSnapshot, b: NodeSnapshot): boolean {
  return (
    a.state === b.state &&
    sameResources(a.capacity, b.capacity) &&
    sameResources(a.reserved, b.reserved) &&
    sameResources(a.allocated, b.allocated) &&
    a.ratios.cpu === b.ratios.cpu &&
    a.ratios.memory === b.ratios.memory &&
    a.ratios.disk === b.ratios.disk &&
    sameRecord(a.labels, b.labels) &&
    sameRecord(a.groups, b.groups)
  );
}

const sameResources = (a: NodeSnapshot["capacity"], b: NodeSnapshot["capacity"]) => a.vcpus === b.vcpus && a.memoryMib === b.memoryMib && a.diskGib === b.diskGib;

function sameRecord<T>(a: Readonly<Record<string, T>>, b: Readonly<Record<string, T>>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && a[k] === b[k]);
}
