import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { getVm, setNodeState, takeDueProvisioning, upsertNode, type DispatchVm, type Sql } from "@drover/store";
import { claimLedger, commitTestVm, EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "@drover/store/testing";
import { defaultConfig } from "../config.js";
import { placementOptionsFor } from "../create/placement-options.js";
import { createMetrics } from "../metrics.js";
import { moveOrWait, type RetryDeps } from "./retry-elsewhere.js";

// Before, a VM whose node was DOWN at dispatch was FAILED at once when no other node could take it
// ("node g1 is DOWN; no other node can take it"): 904 VMs of a bulk whose nodes were starved.
describe("moveOrWait (a VM whose node is DOWN or DEGRADED) on real Postgres", () => {
  let db: TestDatabase;
  let sql: Sql;
  let deps: RetryDeps;

  /** A VM of 2 vCPUs committed on node "a" and taken for dispatch (PROVISIONING, attempt 1). */
  async function dispatching(): Promise<DispatchVm> {
    await commitTestVm(sql, "a", { vcpus: 2, memoryMib: 1024 });
    const [vm] = await takeDueProvisioning(sql, 10, 60_000);
    return vm!;
  }
  const allocatedVcpus = async () => Object.fromEntries((await claimLedger(sql)).map((l) => [l.node, l.allocated.vcpus]));

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    const config = { ...defaultConfig, dispatchAttempts: 1, dispatchWaitMs: 60_000, heartbeatIntervalMs: 2000 };
    deps = { sql, config, metrics: createMetrics(sql), placementOptions: placementOptionsFor(config), log: () => {} };
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await sql`TRUNCATE nodes, vms, create_requests CASCADE`;
    for (const name of ["a", "b"]) {
      await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 8, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    }
  });

  it("waits in the queue, keeping its claim and its attempt, when no other node can take it", async () => {
    await setNodeState(sql, "b", "CORDONED");
    const vm = await dispatching();
    await moveOrWait(deps, vm, "node a is DOWN");
    const after = (await getVm(sql, vm.id))!;
    expect(after).toMatchObject({ node: "a", state: "SCHEDULED", attempts: 0, reason: "node a is DOWN; waiting for it or another node" });
    expect(after.dueAt.getTime()).toBeGreaterThan(Date.now() + 1000);
    expect(await allocatedVcpus()).toEqual({ a: 2, b: 0 });
  });

  it("moves to another node when one fits", async () => {
    const vm = await dispatching();
    await moveOrWait(deps, vm, "node a is DEGRADED");
    expect(await getVm(sql, vm.id)).toMatchObject({ node: "b", state: "SCHEDULED", failedNodes: ["a"] });
    expect(await allocatedVcpus()).toEqual({ a: 0, b: 2 });
  });

  it("is FAILED, holding no claim, once it has waited dispatchWaitMs", async () => {
    await setNodeState(sql, "b", "CORDONED");
    const vm = await dispatching();
    await sql`UPDATE vms SET wait_since = now() - interval '61 seconds' WHERE id = ${vm.id}`;
    await moveOrWait(deps, vm, "node a is DOWN");
    const after = (await getVm(sql, vm.id))!;
    expect(after.state).toBe("FAILED");
    expect(after.reason).toMatch(/node a is DOWN \(waited 60 s for it or another node\)/);
    expect(await allocatedVcpus()).toEqual({ a: 0, b: 0 });
  });
});
