import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { claimResources, upsertNode, type Sql } from "@drover/store";
import { EXACT_CAPACITY, openTestDatabase } from "@drover/store/testing";
import { NodeCache } from "./node-cache.js";

const HOUR = 3_600_000;

describe("NodeCache on real Postgres", () => {
  let db: { sql: Sql; close(): Promise<void> };
  let sql: Sql;

  const register = (name: string, memoryMib = 8192) =>
    upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 8, memoryMib, diskGib: 100, labels: { zone: name } }, EXACT_CAPACITY);
  /** Memory allocated on `name` as the view shows it. */
  const allocated = async (cache: NodeCache, name: string) => (await cache.get()).snapshots.find((n) => n.name === name)?.allocated.memoryMib;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await sql`TRUNCATE nodes, vms CASCADE`;
    await register("a");
    await register("b");
  });

  it("reads every node with its capacity, allocation and labels", async () => {
    await claimResources(sql, [{ node: "b", vcpus: 2, memoryMib: 1024, diskGib: 10 }]);
    const nodes = (await new NodeCache(sql, HOUR).get()).snapshots;
    expect(nodes.map((n) => n.name).sort()).toEqual(["a", "b"]);
    const b = nodes.find((n) => n.name === "b")!;
    expect(b).toMatchObject({
      state: "READY",
      capacity: { vcpus: 8, memoryMib: 8192, diskGib: 100 },
      allocated: { vcpus: 2, memoryMib: 1024, diskGib: 10 },
      labels: { zone: "b" },
      groups: {},
    });
  });

  it("serves the same view within the TTL, and a fresh one when asked, after invalidate() or after the TTL", async () => {
    const cache = new NodeCache(sql, HOUR);
    const first = await cache.get();
    await register("c");
    expect(await cache.get()).toBe(first);
    expect((await cache.get(true)).snapshots.map((n) => n.name)).toContain("c");

    await register("d");
    cache.invalidate();
    expect((await cache.get()).snapshots.map((n) => n.name)).toContain("d");

    const short = new NodeCache(sql, 10);
    const before = await short.get();
    await register("e");
    await new Promise((r) => setTimeout(r, 30));
    const after = await short.get();
    expect(after).not.toBe(before);
    expect(after.snapshots.map((n) => n.name)).toContain("e");
  });

  it("a reload of the same nodes keeps the list and sets only the snapshots that changed (the engine's change log)", async () => {
    const cache = new NodeCache(sql, HOUR);
    const list = await cache.get();
    const [a, b] = list.snapshots;
    const version = list.version;
    await claimResources(sql, [{ node: "b", vcpus: 2, memoryMib: 1024, diskGib: 10 }]);
    expect(await cache.get(true)).toBe(list);
    expect(list.snapshots[0]).toBe(a);
    expect(list.snapshots[1]).not.toBe(b);
    expect(list.snapshots[1]!.allocated.memoryMib).toBe(1024);
    expect([...list.changesSince(version)!]).toEqual([1]);
    await cache.get(true); // nothing changed: nothing set
    expect(list.version).toBe(version + 1);
  });

  it("concurrent callers share one read", async () => {
    const cache = new NodeCache(sql, HOUR);
    const [x, y] = await Promise.all([cache.get(true), cache.get(true)]);
    expect(x).toBe(y);
  });

  it("reserve() shows this replica's claims at once, and undo() takes them back out", async () => {
    const cache = new NodeCache(sql, HOUR);
    await cache.get();
    const r = cache.reserve([
      { node: "a", vcpus: 1, memoryMib: 512, diskGib: 0 },
      { node: "a", vcpus: 1, memoryMib: 256, diskGib: 0 },
      { node: "nowhere", vcpus: 1, memoryMib: 256, diskGib: 0 },
    ]);
    expect(await allocated(cache, "a")).toBe(768);
    expect(await allocated(cache, "b")).toBe(0);
    r.undo();
    expect(await allocated(cache, "a")).toBe(0);
  });

  it("replaces a reserved node's snapshot rather than changing it (the engine treats its input as immutable)", async () => {
    const cache = new NodeCache(sql, HOUR);
    const held = (await cache.get()).snapshots.find((n) => n.name === "a")!;
    cache.reserve([{ node: "a", vcpus: 1, memoryMib: 512, diskGib: 0 }]);
    expect(held.allocated.memoryMib).toBe(0);
    expect(await allocated(cache, "a")).toBe(512);
  });

  it("an undo() after a reload leaves the new view alone (it already holds what committed)", async () => {
    const cache = new NodeCache(sql, HOUR);
    await cache.get();
    const claim = { node: "a", vcpus: 1, memoryMib: 512, diskGib: 0 };
    const r = cache.reserve([claim]);
    await claimResources(sql, [claim]);
    expect(await allocated(cache, "a")).toBe(512);
    await cache.get(true);
    r.undo();
    expect(await allocated(cache, "a")).toBe(512);
  });

  it("reserve() before the first read changes nothing and does not fail", async () => {
    const cache = new NodeCache(sql, HOUR);
    cache.reserve([{ node: "a", vcpus: 1, memoryMib: 512, diskGib: 0 }]).undo();
    expect(await allocated(cache, "a")).toBe(0);
  });
});
