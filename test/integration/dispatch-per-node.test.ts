import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PlacementStrategy, VmState } from "@drover/proto";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { policy, vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

// A bulk packed onto two hosts, with 2 dispatches per node at a time: the rest queue behind the
// per-node limit. The background tick is 30 s, so the VMs can only all start in time if a node
// that frees its slots wakes the dispatcher.
describe("dispatch with a per-node limit", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster(
      [
        { name: "p1", vcpus: 16, memoryMib: 16384 },
        { name: "p2", vcpus: 16, memoryMib: 16384 },
      ],
      { dispatchPerNode: 2, tickMs: 30_000 },
    );
  });
  afterAll(() => cluster?.stop());

  it("starts every VM of a packed bulk, a few per node at a time, without waiting for the tick", async () => {
    const res = await cluster.api.createVms({
      template: vmSpec("packed", 1, 512),
      count: 40,
      policy: policy({ strategy: PlacementStrategy.PLACEMENT_STRATEGY_PACK }),
    });
    expect(res.vms).toHaveLength(40);
    expect(new Set(res.vms.map((v) => v.node)).size).toBe(2);
    await waitFor(
      "all 40 RUNNING",
      async () => {
        const states = await Promise.all(res.vms.map((v) => cluster.api.getVm(v.id)));
        return states.every((v) => v.state === VmState.VM_STATE_RUNNING) ? true : undefined;
      },
      25_000,
    );
  });
});
