import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials } from "@grpc/grpc-js";
import { AgentServiceClient, NodeState, VmState, type VmSpec } from "@drover/proto";
import { listDomains } from "../support/agent-client.js";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

function ensureDomain(address: string, vmId: string, spec: VmSpec): Promise<void> {
  const client = new AgentServiceClient(address, credentials.createInsecure());
  return new Promise((resolve, reject) =>
    client.ensureDomain({ vmId, spec }, (err) => {
      client.close();
      if (err) reject(err);
      else resolve();
    }),
  );
}

const hasDomain = async (address: string, vmId: string) => (await listDomains(address)).some((d) => d.vmId === vmId);

// A VM must run on exactly one node, and a deleted VM on none: agents destroy
// the domains the scheduler reports as stray in its heartbeat answers.
describe("stray domains are destroyed", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster(
      [
        { name: "x", vcpus: 4, memoryMib: 8192 },
        { name: "y", vcpus: 4, memoryMib: 8192 },
      ],
      { heartbeatTimeoutMs: 1500 },
    );
  });
  afterAll(() => cluster?.stop());

  it("removes a copy of a VM on a node it does not belong to (a late dispatch), keeping the real one", async () => {
    const [vm] = (await cluster.api.createVms({ template: vmSpec("one", 1, 256), count: 1 })).vms;
    await waitFor("RUNNING", async () => ((await cluster.api.getVm(vm!.id)).state === VmState.VM_STATE_RUNNING ? true : undefined));
    const home = cluster.agents.find((a) => a.name === vm!.node)!;
    const other = cluster.agents.find((a) => a.name !== vm!.node)!;
    await ensureDomain(other.address, vm!.id, vm!.spec!);
    expect(await hasDomain(other.address, vm!.id)).toBe(true);
    await waitFor("stray copy destroyed", async () => ((await hasDomain(other.address, vm!.id)) ? undefined : true), 10_000);
    expect(await hasDomain(home.address, vm!.id)).toBe(true);
    expect((await cluster.api.getVm(vm!.id)).state).toBe(VmState.VM_STATE_RUNNING);
  });

  it("destroys the domain of a VM deleted while its node was DOWN, once the node is back", async () => {
    const [vm] = (await cluster.api.createVms({ template: vmSpec("gone", 1, 256), count: 1 })).vms;
    await waitFor("RUNNING", async () => ((await cluster.api.getVm(vm!.id)).state === VmState.VM_STATE_RUNNING ? true : undefined));
    const agent = cluster.agents.find((a) => a.name === vm!.node)!;
    agent.pauseHeartbeats();
    await waitFor("node DOWN", async () => ((await cluster.api.getNode(agent.name)).state === NodeState.NODE_STATE_DOWN ? true : undefined), 10_000, 50);
    await cluster.api.deleteVm(vm!.id);
    await waitFor("DELETED", async () => ((await cluster.api.getVm(vm!.id)).state === VmState.VM_STATE_DELETED ? true : undefined));
    // The host kept running it while it was cut off.
    expect(await hasDomain(agent.address, vm!.id)).toBe(true);
    agent.resumeHeartbeats();
    await waitFor("orphan destroyed", async () => ((await hasDomain(agent.address, vm!.id)) ? undefined : true), 10_000);
  });
});
