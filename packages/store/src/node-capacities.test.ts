// listNodeCapacities (the node cache's reload) reads what listNodes reads of each node, for
// placement: the same nodes in the same order, with the same numbers, states and labels.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listNodeCapacities, listNodes, setNodeState, upsertNode } from "./nodes.js";
import { commitTestVm, openTestDatabase } from "./testing.js";
import type { Sql } from "./db.js";

describe("listNodeCapacities", () => {
  let db: Awaited<ReturnType<typeof openTestDatabase>>;
  let sql: Sql;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
  });
  afterAll(async () => db?.close());

  it("is listNodes' placement fields, node for node", async () => {
    const ratios = { cpuRatio: 4, memoryRatio: 1.5, diskRatio: 1, reservedVcpus: 2, reservedMemoryMib: 512, reservedDiskGib: 10 };
    for (const [i, name] of ["c", "a", "b"].entries()) {
      await upsertNode(sql, { name, address: `127.0.0.1:${7000 + i}`, vcpus: 8 + i, memoryMib: 16384, diskGib: 100, labels: { rack: `r${i}` } }, ratios);
    }
    await commitTestVm(sql, "b", { vcpus: 3, memoryMib: 1024 });
    await setNodeState(sql, "c", "CORDONED");
    const placed = (await listNodes(sql)).map(({ name, state, capacity, reserved, ratios, allocated, labels }) => ({ name, state, capacity, reserved, ratios, allocated, labels }));
    expect(await listNodeCapacities(sql)).toEqual(placed);
    expect(placed.map((n) => n.name)).toEqual(["a", "b", "c"]);
    expect(placed[1]!.allocated).toEqual({ vcpus: 3, memoryMib: 1024, diskGib: 0 });
    expect(placed[2]!.state).toBe("CORDONED");
  });
});
