import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { commitPlacements, setNodeState, transitionVm, upsertNode, type Sql } from "@drover/store";
import { openTestDatabase, placedRequest } from "@drover/store/testing";
import { NotFoundError } from "../errors.js";
import { clusterCapacity } from "./cluster-capacity.js";

const defaults = { cpuRatio: 2, memoryRatio: 1, diskRatio: 1, reservedVcpus: 1, reservedMemoryMib: 1024, reservedDiskGib: 0 };

/** Commits one VM of 2 vCPUs and 1 GiB on each of `nodes`; their ids. */
async function place(sql: Sql, nodes: string[]): Promise<string[]> {
  const placed = placedRequest(nodes, 1024, { vcpus: 2 });
  await commitPlacements(sql, placed);
  return placed.vms.map((v) => v.id);
}

// Node "a" READY with two VMs (one of them STOPPED), node "b" CORDONED with one.
describe("clusterCapacity on real Postgres", () => {
  let db: { sql: Sql; close(): Promise<void> };
  let sql: Sql;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    for (const name of ["a", "b"]) {
      await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 100, labels: {} }, defaults);
    }
    const [, second] = await place(sql, ["a", "a", "b"]);
    await transitionVm(sql, second!, ["SCHEDULED"], "STOPPED", {});
    await setNodeState(sql, "b", "CORDONED");
  });
  afterAll(async () => {
    await db?.close();
  });

  it("gives each node its allocatable (capacity × ratio − reserved), allocated and free, and its VMs by state", async () => {
    const c = await clusterCapacity(sql);
    expect(c.nodes.map((n) => n.name)).toEqual(["a", "b"]);
    const [a, b] = c.nodes;
    expect(a).toMatchObject({
      state: "READY",
      capacity: { vcpus: 8, memoryMib: 8192, diskGib: 100 },
      allocatable: { vcpus: 15, memoryMib: 7168, diskGib: 100 },
      allocated: { vcpus: 4, memoryMib: 2048, diskGib: 0 },
      free: { vcpus: 11, memoryMib: 5120, diskGib: 100 },
    });
    expect(a!.vms).toEqual(new Map([["SCHEDULED", 1], ["STOPPED", 1]]));
    expect(b).toMatchObject({ state: "CORDONED", allocated: { vcpus: 2, memoryMib: 1024, diskGib: 0 } });
    expect(b!.vms).toEqual(new Map([["SCHEDULED", 1]]));
  });

  it("sums capacity and allocated over every node, allocatable and free over READY nodes only", async () => {
    const c = await clusterCapacity(sql);
    expect(c.capacity).toEqual({ vcpus: 16, memoryMib: 16384, diskGib: 200 });
    expect(c.allocated).toEqual({ vcpus: 6, memoryMib: 3072, diskGib: 0 });
    expect(c.allocatable).toEqual({ vcpus: 15, memoryMib: 7168, diskGib: 100 });
    expect(c.free).toEqual({ vcpus: 11, memoryMib: 5120, diskGib: 100 });
    expect(c.vms).toEqual(new Map([["SCHEDULED", 2], ["STOPPED", 1]]));
  });

  it("for one node, totals and VM counts are that node's", async () => {
    const c = await clusterCapacity(sql, "b");
    expect(c.nodes.map((n) => n.name)).toEqual(["b"]);
    expect(c.capacity).toEqual({ vcpus: 8, memoryMib: 8192, diskGib: 100 });
    // b is CORDONED: nothing of it can be allocated now.
    expect(c.allocatable).toEqual({ vcpus: 0, memoryMib: 0, diskGib: 0 });
    expect(c.vms).toEqual(new Map([["SCHEDULED", 1]]));
  });

  it("refuses an unknown node", async () => {
    await expect(clusterCapacity(sql, "nope")).rejects.toBeInstanceOf(NotFoundError);
  });
});
