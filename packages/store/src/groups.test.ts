import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  claimGroupMembers,
  commitPlacements,
  GroupConflictError,
  groupMembersByNode,
  readGroupMembers,
  releaseClaim,
  upsertNode,
  type Sql,
} from "./index.js";
import { EXACT_CAPACITY, openTestDatabase, placedRequest, type PlacedRequestGroups } from "./testing.js";

const NODES = ["n1", "n2", "n3", "n4", "n5"];

/** One request of one VM of 1 vCPU and 1 MiB per entry of `nodes`, each in the groups of `role`. */
const placed = (nodes: string[], role: PlacedRequestGroups) => placedRequest(nodes, 1, { groups: role });

describe("group members on real Postgres (migration 019)", () => {
  let db: { sql: Sql; close(): Promise<void> };
  let sql: Sql;

  /** group_members as the group cache reads it, next to the count from the VM rows themselves. */
  async function members(group: string, vmRows = true) {
    const kept = (await readGroupMembers(sql, [group])).map((m) => `${m.node}:${m.members}`).sort();
    if (vmRows) expect(kept).toEqual((await groupMembersByNode(sql, [group])).map((m) => `${m.node}:${m.count}`).sort());
    const [row] = await sql<{ nodes: number }[]>`SELECT nodes FROM placement_groups WHERE name = ${group}`;
    expect(row?.nodes ?? 0).toBe(kept.length);
    return kept;
  }

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    for (const name of NODES) {
      await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 1000, memoryMib: 100_000, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    }
  });
  afterAll(() => db.close());

  it("refuses a second anti-affinity member on a node, in the statement, and writes nothing", async () => {
    await commitPlacements(sql, placed(["n1", "n2"], { anti: "web" }));
    const again = placed(["n3", "n1"], { anti: "web" });
    await expect(commitPlacements(sql, again)).rejects.toBeInstanceOf(GroupConflictError);
    await expect(commitPlacements(sql, again)).rejects.toThrow(/anti-affinity group web already on n1/);
    expect(await members("web")).toEqual(["n1:1", "n2:1"]);
    // n3's claim rolled back with it.
    const [n3] = await sql<{ alloc: number }[]>`SELECT alloc_vcpus AS alloc FROM nodes WHERE name = 'n3'`;
    expect(n3!.alloc).toBe(0);
    // A soft anti-affinity member may join a node; a hard one may not follow it there.
    await commitPlacements(sql, placed(["n3"], { soft: "web" }));
    await expect(commitPlacements(sql, placed(["n3"], { anti: "web" }))).rejects.toBeInstanceOf(GroupConflictError);
    expect(await members("web")).toEqual(["n1:1", "n2:1", "n3:1"]);
  });

  it("keeps an affinity group on one node", async () => {
    await commitPlacements(sql, placed(["n2", "n2"], { affinity: "db" }));
    await commitPlacements(sql, placed(["n2"], { affinity: "db" }));
    await expect(commitPlacements(sql, placed(["n4"], { affinity: "db" }))).rejects.toThrow(/affinity group db would span 2 nodes/);
    expect(await members("db")).toEqual(["n2:3"]);
  });

  it("gives a released member's node back to its group", async () => {
    const p = placed(["n4"], { anti: "cache", affinity: "cache-aff" });
    await commitPlacements(sql, p);
    await expect(commitPlacements(sql, placed(["n4"], { anti: "cache" }))).rejects.toBeInstanceOf(GroupConflictError);
    await expect(commitPlacements(sql, placed(["n5"], { affinity: "cache-aff" }))).rejects.toBeInstanceOf(GroupConflictError);
    expect(await releaseClaim(sql, p.vms[0]!.id)).toBe("n4");
    expect(await releaseClaim(sql, p.vms[0]!.id)).toBeNull();
    expect(await members("cache")).toEqual([]);
    // Empty again: the anti-affinity node is free, and the affinity group may start anywhere.
    await commitPlacements(sql, placed(["n4"], { anti: "cache" }));
    await commitPlacements(sql, placed(["n5"], { affinity: "cache-aff" }));
    expect(await members("cache")).toEqual(["n4:1"]);
    expect(await members("cache-aff")).toEqual(["n5:1"]);
  });

  it("checks a member added on its own in a transaction (a VM placed again)", async () => {
    await sql.begin((tx) => claimGroupMembers(tx, [{ node: "n1", groups: ["solo"], antiAffinityGroup: "solo" }]));
    await expect(sql.begin((tx) => claimGroupMembers(tx, [{ node: "n1", groups: ["solo"], antiAffinityGroup: "solo" }]))).rejects.toBeInstanceOf(GroupConflictError);
    await sql.begin((tx) => claimGroupMembers(tx, [{ node: "n2", groups: ["solo"], antiAffinityGroup: "solo" }]));
    // No VM row for these two: only the group rows count them.
    expect(await members("solo", false)).toEqual(["n1:1", "n2:1"]);
  });

  it("admits exactly one anti-affinity member per node from 200 concurrent commits", async () => {
    const pool = db.sql;
    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => commitPlacements(pool, placed([NODES[i % NODES.length]!], { anti: "race" }))),
    );
    const ok = outcomes.filter((o) => o.status === "fulfilled").length;
    for (const o of outcomes) if (o.status === "rejected") expect(o.reason).toBeInstanceOf(GroupConflictError);
    expect(ok).toBe(NODES.length);
    expect(await members("race")).toEqual(NODES.map((n) => `${n}:1`));
  });

  it("admits one node for an affinity group from 200 concurrent commits", async () => {
    const outcomes = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => commitPlacements(sql, placed([NODES[i % NODES.length]!], { affinity: "herd" }))),
    );
    const ok = outcomes.filter((o) => o.status === "fulfilled").length;
    const kept = await members("herd");
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatch(new RegExp(`:${ok}$`));
  });
});
