import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { getNode, upsertNode, type Sql } from "@drover/store";
import { EXACT_CAPACITY, openTestDatabase } from "@drover/store/testing";
import { NotFoundError, ValidationError, WrongStateError } from "../errors.js";
import { changeNodeState } from "./change-state.js";
import { updateAllocation } from "./update-allocation.js";

// The operator's node calls: state changes (and the DOWN rule) and allocation updates.
describe("node rules on real Postgres", () => {
  let db: { sql: Sql; close(): Promise<void> };
  let sql: Sql;

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await sql`TRUNCATE nodes, vms CASCADE`;
    await upsertNode(sql, { name: "n", address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 100, labels: {} }, EXACT_CAPACITY);
  });

  it("cordons, drains and uncordons, answering the node with its VM count", async () => {
    expect(await changeNodeState(sql, "n", "CORDONED")).toMatchObject({ node: { name: "n", state: "CORDONED" }, vms: 0 });
    expect((await changeNodeState(sql, "n", "DRAINING")).node.state).toBe("DRAINING");
    expect((await changeNodeState(sql, "n", "READY")).node.state).toBe("READY");
    expect((await getNode(sql, "n"))!.state).toBe("READY");
  });

  it("refuses to change a DOWN node: only its heartbeat brings it back", async () => {
    await sql`UPDATE nodes SET state = 'DOWN' WHERE name = 'n'`;
    const err = await changeNodeState(sql, "n", "READY").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(WrongStateError);
    expect((err as Error).message).toBe("node n is DOWN; it becomes READY when its agent heartbeats again");
    expect((await getNode(sql, "n"))!.state).toBe("DOWN");
  });

  it("refuses unknown nodes", async () => {
    await expect(changeNodeState(sql, "ghost", "CORDONED")).rejects.toBeInstanceOf(NotFoundError);
    await expect(updateAllocation(sql, "ghost", { cpuRatio: 2 })).rejects.toBeInstanceOf(NotFoundError);
  });

  it("sets ratios and reservations; unset fields keep their value", async () => {
    await updateAllocation(sql, "n", { cpuRatio: 4 });
    const { node } = await updateAllocation(sql, "n", { reserved: { vcpus: 2, memoryMib: 1024, diskGib: 0 } });
    expect(node.ratios.cpu).toBe(4);
    expect(node.reserved).toEqual({ vcpus: 2, memoryMib: 1024, diskGib: 0 });
  });

  it.each([
    ["vcpus above the node's", { vcpus: 9, memoryMib: 0, diskGib: 0 }, "reserved.vcpus: must be from 0 to the node's 8, got 9"],
    ["negative memory", { vcpus: 0, memoryMib: -1, diskGib: 0 }, "reserved.memory_mib: must be from 0 to the node's 8192, got -1"],
    ["fractional disk", { vcpus: 0, memoryMib: 0, diskGib: 1.5 }, "reserved.disk_gib: must be from 0 to the node's 100, got 1.5"],
  ])("refuses a reservation with %s, changing nothing", async (_, reserved, message) => {
    const err = await updateAllocation(sql, "n", { cpuRatio: 3, reserved }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toBe(message);
    expect((await getNode(sql, "n"))!.ratios.cpu).toBe(1);
  });
});
