import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { VmState } from "@drover/proto";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

const spec = vmSpec("r", 2, 1024);

/** A sample's value in the scheduler's /metrics (0 when absent). */
async function metric(cluster: TestCluster, sample: string): Promise<number> {
  const text = await (await fetch(`http://${cluster.scheduler.metricsAddress}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

// A node that is READY in the database but whose agent no longer answers:
// dispatch must release the claim there and start the VM elsewhere.
describe("dispatch failure: release the claim, try another node, then FAILED", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster(
      [
        { name: "broken", vcpus: 64, memoryMib: 262144 },
        { name: "fine", vcpus: 4, memoryMib: 4096 },
      ],
      { agentTimeoutMs: 1000, dispatchAttempts: 2 },
    );
    // The agent dies without the scheduler noticing (heartbeat timeout is 10 s).
    await cluster.agents.find((a) => a.name === "broken")!.stop();
  });
  afterAll(() => cluster?.stop());

  it("moves the VM to a node whose agent answers", async () => {
    const placementsBefore = await metric(cluster, "drover_placement_duration_seconds_count");
    // Spread prefers the big, empty "broken" node first.
    const res = await cluster.api.createVms({ template: spec, count: 1 });
    expect(res.vms[0]!.node).toBe("broken");
    const vm = await waitFor("VM RUNNING", async () => {
      const v = await cluster.api.getVm(res.vms[0]!.id);
      return v.state === VmState.VM_STATE_RUNNING ? v : undefined;
    });
    expect(vm.node).toBe("fine");
    expect(vm.attempts).toBe(2);
    expect(vm.reason).toMatch(/^agent on broken: /);
    const broken = await cluster.api.getNode("broken");
    expect(broken.allocated).toEqual({ vcpus: 0, memoryMib: 0, diskGib: 0 });
    expect((await cluster.api.getNode("fine")).allocated).toEqual({ vcpus: 2, memoryMib: 1024, diskGib: 0 });
    // The retry places through the create path, so it is timed like the create.
    expect(await metric(cluster, "drover_placement_duration_seconds_count")).toBe(placementsBefore + 2);
  });

  it("marks a VM FAILED with the reason when no node can take it, holding no claim", async () => {
    const cpuFailures = 'drover_placement_failures_total{reason="insufficient_cpu"}';
    const failuresBefore = await metric(cluster, cpuFailures);
    // 4 vCPUs too many for "fine" after the first VM: only "broken" has room.
    const res = await cluster.api.createVms({ template: { ...spec, name: "big", vcpus: 32 }, count: 1 });
    const vm = await waitFor("VM FAILED", async () => {
      const v = await cluster.api.getVm(res.vms[0]!.id);
      return v.state === VmState.VM_STATE_FAILED ? v : undefined;
    });
    expect(vm.reason).toMatch(/^agent on broken: .*; no other node can take it: 1 node: insufficient cpu/);
    const cap = await cluster.api.getCapacity();
    expect(cap.allocated).toEqual({ vcpus: 2, memoryMib: 1024, diskGib: 0 });
    // A VM no node can take counts into the failure metric, as a refused create does.
    expect(await metric(cluster, cpuFailures)).toBe(failuresBefore + 1);
  });
});
