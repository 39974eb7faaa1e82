import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { getVm, setNodeState, takeDueProvisioning, transitionVm, upsertNode, type DispatchVm, type Sql } from "@drover/store";
import { claimLedger, commitTestVm, EXACT_CAPACITY, openTestDatabase, type TestDatabase } from "@drover/store/testing";
import { defaultConfig } from "../config.js";
import { placementOptionsFor } from "../create/placement-options.js";
import { createMetrics, type SchedulerMetrics } from "../metrics.js";
import { retryElsewhere, type RetryDeps } from "./retry-elsewhere.js";

describe("retryElsewhere on real Postgres", () => {
  let db: TestDatabase;
  let sql: Sql;
  let metrics: SchedulerMetrics;
  let deps: RetryDeps;

  /** A VM of `vcpus` committed on node "a" and taken for dispatch (PROVISIONING, attempt 1). */
  async function dispatching(vcpus: number): Promise<DispatchVm> {
    await commitTestVm(sql, "a", { vcpus, memoryMib: 1024 });
    const [vm] = await takeDueProvisioning(sql, 10, 60_000);
    return vm!;
  }
  const allocatedVcpus = async () => Object.fromEntries((await claimLedger(sql)).map((l) => [l.node, l.allocated.vcpus]));
  const sample = async (name: string, labels = "") => {
    const line = (await metrics.registry.metrics()).split("\n").find((l) => l.startsWith(`${name}${labels} `));
    return line ? Number(line.split(" ")[1]) : 0;
  };

  beforeAll(async () => {
    db = await openTestDatabase();
    sql = db.sql;
    metrics = createMetrics(sql);
    const config = { ...defaultConfig, dispatchAttempts: 2 };
    deps = { sql, config, metrics, placementOptions: placementOptionsFor(config), log: () => {} };
  });
  afterAll(async () => {
    await db?.close();
  });
  beforeEach(async () => {
    await sql`TRUNCATE nodes, vms, create_requests CASCADE`;
    for (const [name, vcpus] of [["a", 8], ["b", 8], ["small", 1]] as const) {
      await upsertNode(sql, { name, address: "127.0.0.1:1", vcpus, memoryMib: 8192, diskGib: 10, labels: {} }, EXACT_CAPACITY);
    }
  });

  it("moves the VM and its claim to a node that fits and was not tried, keeping the reason", async () => {
    const placed = await sample("drover_placement_duration_seconds_count");
    const vm = await dispatching(2);
    await retryElsewhere(deps, vm, "agent on a: refused");
    const after = (await getVm(sql, vm.id))!;
    expect(after).toMatchObject({ node: "b", state: "SCHEDULED", reason: "agent on a: refused", failedNodes: ["a"] });
    expect(await allocatedVcpus()).toEqual({ a: 0, b: 2, small: 0 });
    expect(await sample("drover_placement_duration_seconds_count")).toBe(placed + 1);
  });

  it("gives up as FAILED after the last attempt, holding no claim", async () => {
    const first = await dispatching(2);
    await retryElsewhere(deps, first, "agent on a: refused");
    const [second] = await takeDueProvisioning(sql, 10, 60_000);
    expect(second!.attempts).toBe(2);
    await retryElsewhere(deps, second!, "agent on b: refused");
    expect((await getVm(sql, first.id))!).toMatchObject({ state: "FAILED", reason: "gave up after 2 attempts; last: agent on b: refused" });
    expect(await allocatedVcpus()).toEqual({ a: 0, b: 0, small: 0 });
  });

  it("fails a VM no other node can take, with the engine's reasons, counted as placement failures", async () => {
    await setNodeState(sql, "b", "CORDONED");
    const failures = await sample("drover_placement_failures_total", '{reason="insufficient_cpu"}');
    const vm = await dispatching(2);
    await retryElsewhere(deps, vm, "agent on a: refused");
    const after = (await getVm(sql, vm.id))!;
    expect(after.state).toBe("FAILED");
    expect(after.reason).toMatch(/^agent on a: refused; no other node can take it: .*1 node: cordoned/);
    expect(await sample("drover_placement_failures_total", '{reason="insufficient_cpu"}')).toBe(failures + 1);
    expect(await allocatedVcpus()).toEqual({ a: 0, b: 0, small: 0 });
  });

  it("leaves a VM alone that was deleted meanwhile, and says so (the dispatcher finishes the delete)", async () => {
    const vm = await dispatching(2);
    await transitionVm(sql, vm.id, ["PROVISIONING"], "DELETING", {});
    expect(await retryElsewhere(deps, vm, "agent on a: refused")).toBe("deleting");
    expect((await getVm(sql, vm.id))!).toMatchObject({ state: "DELETING", node: "a" });
    expect(await allocatedVcpus()).toEqual({ a: 2, b: 0, small: 0 });
  });
});
