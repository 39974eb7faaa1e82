import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeState, VmState } from "@drover/proto";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

const TIMEOUT_MS = 1500;

describe("liveness: a node whose agent stops heartbeating goes DOWN", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster(
      [
        { name: "alive", vcpus: 4, memoryMib: 8192 },
        { name: "doomed", vcpus: 4, memoryMib: 8192 },
      ],
      { heartbeatTimeoutMs: TIMEOUT_MS },
    );
  });
  afterAll(() => cluster?.stop());

  it("marks the node DOWN within the timeout, its VMs LOST, and places nothing there", async () => {
    const res = await cluster.api.createVms({
      template: vmSpec("v", 1, 256),
      count: 4,
    });
    await waitFor("VMs RUNNING", async () => {
      const vms = await Promise.all(res.vms.map((v) => cluster.api.getVm(v.id)));
      return vms.every((v) => v.state === VmState.VM_STATE_RUNNING) ? true : undefined;
    });
    const onDoomed = res.vms.filter((v) => v.node === "doomed").map((v) => v.id);
    expect(onDoomed.length).toBeGreaterThan(0);

    const agent = cluster.agents.find((a) => a.name === "doomed")!;
    agent.pauseHeartbeats();
    const stoppedAt = Date.now();
    await waitFor("node DOWN", async () => ((await cluster.api.getNode("doomed")).state === NodeState.NODE_STATE_DOWN ? true : undefined), 10_000, 50);
    const tookMs = Date.now() - stoppedAt;
    // Timeout plus one liveness pass (timeout/4) plus one heartbeat interval of slack.
    expect(tookMs).toBeLessThan(TIMEOUT_MS + TIMEOUT_MS / 4 + 1000);
    expect((await cluster.api.getNode("alive")).state).toBe(NodeState.NODE_STATE_READY);
    for (const id of onDoomed) {
      const vm = await cluster.api.getVm(id);
      expect(vm.state).toBe(VmState.VM_STATE_LOST);
      expect(vm.reason).toMatch(/doomed stopped sending heartbeats/);
    }
    const more = await cluster.api.createVms({
      template: vmSpec("w", 1, 256),
      count: 3,
    });
    expect(more.vms.every((v) => v.node === "alive")).toBe(true);
  });

  it("brings the node back READY and its VMs RUNNING when heartbeats resume", async () => {
    const agent = cluster.agents.find((a) => a.name === "doomed")!;
    agent.resumeHeartbeats();
    await waitFor("node READY", async () => ((await cluster.api.getNode("doomed")).state === NodeState.NODE_STATE_READY ? true : undefined));
    await waitFor("no VM LOST", async () => ((await cluster.api.listVms({ state: VmState.VM_STATE_LOST })).vms.length === 0 ? true : undefined));
  });

  it("keeps an operator's cordon across the node going DOWN and coming back", async () => {
    await cluster.api.cordonNode("alive");
    const agent = cluster.agents.find((a) => a.name === "alive")!;
    agent.pauseHeartbeats();
    await waitFor("node DOWN", async () => ((await cluster.api.getNode("alive")).state === NodeState.NODE_STATE_DOWN ? true : undefined), 10_000, 50);
    agent.resumeHeartbeats();
    await waitFor("node CORDONED again", async () => ((await cluster.api.getNode("alive")).state === NodeState.NODE_STATE_CORDONED ? true : undefined));
  });
});
