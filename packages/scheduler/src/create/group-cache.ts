import { readGroupMembers, type GroupMember, type Sql } from "@drover/store";
import type { Reservation } from "./node-cache.js";

/** Node name -> members of one group there (nodes without members absent). */
export type GroupMembers = ReadonlyMap<string, number>;

interface Entry {
  members: Map<string, number>;
  loadedAt: number;
  /** Bumped on every reload, so an undo never touches a newer read. */
  version: number;
}

const NONE: GroupMembers = new Map();

/**
 * This replica's view of (anti-)affinity group members per node, read from group_members
 * (migration 019) for the groups requests name, and updated in memory with this replica's own
 * placements, like the node cache. A stale view is safe: the commit's statement checks every
 * group on the rows' latest versions, and a refusal (GroupConflictError) invalidates the groups
 * it names. Members that left since a read (deleted VMs) only make the view stricter until the
 * next read; a request is only refused on a fresh one. Entries live for `ttlMs`, at most
 * `maxGroups` of them (the oldest read go first), so one group per request does not grow it
 * without bound.
 */
export class GroupCache {
  private readonly entries = new Map<string, Entry>();
  /** Reads in flight by group: concurrent requests of one group share one. */
  private readonly loading = new Map<string, Promise<void>>();
  private version = 0;

  constructor(
    private readonly sql: Sql,
    private readonly ttlMs: number,
    private readonly maxGroups = 50_000,
  ) {}

  /** Members per node of each group, read where missing, older than the TTL, or `fresh`; one query for all. */
  async get(groups: readonly string[], fresh = false): Promise<Map<string, GroupMembers>> {
    const now = performance.now();
    const stale = [...new Set(groups)].filter((g) => {
      const e = this.entries.get(g);
      return fresh || e === undefined || now - e.loadedAt >= this.ttlMs;
    });
    if (stale.length > 0) {
      // A fresh view must start after the caller asked (a read in flight may predate a conflict).
      const waits = fresh ? [] : stale.flatMap((g) => this.loading.get(g) ?? []);
      const mine = fresh ? stale : stale.filter((g) => !this.loading.has(g));
      if (mine.length > 0) {
        const p = this.load(mine).finally(() => {
          for (const g of mine) if (this.loading.get(g) === p) this.loading.delete(g);
        });
        for (const g of mine) this.loading.set(g, p);
        waits.push(p);
      }
      await Promise.all(waits);
    }
    return new Map(groups.map((g) => [g, this.entries.get(g)?.members ?? NONE]));
  }

  invalidate(groups: readonly string[]): void {
    for (const g of groups) this.entries.delete(g);
  }

  /** Counts members into the view now (before they commit), so the next request sees them. */
  reserve(members: readonly GroupMember[]): Reservation {
    const taken: { entry: Entry; version: number; group: string; node: string }[] = [];
    for (const m of members) {
      for (const g of m.groups) {
        const entry = this.entries.get(g);
        if (!entry) continue;
        entry.members.set(m.node, (entry.members.get(m.node) ?? 0) + 1);
        taken.push({ entry, version: entry.version, group: g, node: m.node });
      }
    }
    return {
      undo: () => {
        for (const t of taken) {
          if (t.entry.version !== t.version || this.entries.get(t.group) !== t.entry) continue;
          const left = (t.entry.members.get(t.node) ?? 0) - 1;
          if (left > 0) t.entry.members.set(t.node, left);
          else t.entry.members.delete(t.node);
        }
      },
    };
  }

  private async load(groups: string[]): Promise<void> {
    const rows = await readGroupMembers(this.sql, groups);
    const loadedAt = performance.now();
    const fresh = new Map<string, Entry>(groups.map((g) => [g, { members: new Map(), loadedAt, version: ++this.version }]));
    for (const r of rows) fresh.get(r.group)?.members.set(r.node, r.members);
    for (const [g, e] of fresh) {
      // Re-inserted, so the Map's order is the order of reads: the oldest are evicted first.
      this.entries.delete(g);
      this.entries.set(g, e);
    }
    for (const g of this.entries.keys()) {
      if (this.entries.size <= this.maxGroups) break;
      this.entries.delete(g);
    }
  }
}
