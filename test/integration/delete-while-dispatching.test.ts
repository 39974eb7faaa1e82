import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultConfig } from "@drover/scheduler";
import { VmState } from "@drover/proto";
import { listDomains } from "../support/agent-client.js";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { freePort } from "../support/ports.js";
import { vmSpec } from "../support/requests.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { waitFor } from "../support/wait.js";

// The dispatch lease is twice the agent call deadline (the default config's: two minutes).
const leaseMs = defaultConfig.agentTimeoutMs * 2;

// A DeleteVm that comes while the VM's EnsureDomain is in flight: the scheduler dials the agent
// through a proxy that holds the call, so the delete surely lands during the dispatch, and the
// agent creates the domain only after the delete was recorded.
describe("DeleteVm of a VM being dispatched", () => {
  let cluster: TestCluster;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  let agentAddress: string;
  beforeAll(async () => {
    const port = await freePort();
    agentAddress = `127.0.0.1:${port}`;
    proxy = await startTcpProxy({ host: "127.0.0.1", port });
    cluster = await startTestCluster([
      { name: "h1", vcpus: 8, memoryMib: 16384, listen: agentAddress, advertiseAddress: `127.0.0.1:${proxy.port}` },
    ]);
    // One VM through the proxy first, so the scheduler's connection to the agent is up before calls are held.
    const warm = await cluster.api.createVms({ template: vmSpec("warm", 1, 512), count: 1 });
    await waitFor("warm-up VM RUNNING", async () => ((await cluster.api.getVm(warm.vms[0]!.id)).state === VmState.VM_STATE_RUNNING ? true : undefined));
    await cluster.api.deleteVm(warm.vms[0]!.id);
    await waitFor("warm-up VM DELETED", async () => ((await cluster.api.getVm(warm.vms[0]!.id)).state === VmState.VM_STATE_DELETED ? true : undefined));
  });
  afterAll(async () => {
    await cluster?.stop();
    await proxy?.close();
  });

  it("is DELETED once the EnsureDomain returns, not after the lease, and leaves no domain on the host", async () => {
    proxy.hold();
    const res = await cluster.api.createVms({ template: vmSpec("doomed", 2, 1024), count: 1 });
    const id = res.vms[0]!.id;
    await waitFor("VM PROVISIONING (its EnsureDomain held)", async () => ((await cluster.api.getVm(id)).state === VmState.VM_STATE_PROVISIONING ? true : undefined));
    const deletedAt = Date.now();
    expect((await cluster.api.deleteVm(id)).state).toBe(VmState.VM_STATE_DELETING);
    // The EnsureDomain reaches the agent only now, after the delete: the agent creates the domain.
    proxy.letGo();
    await waitFor("VM DELETED", async () => ((await cluster.api.getVm(id)).state === VmState.VM_STATE_DELETED ? true : undefined), leaseMs / 2);
    // Well under the lease: the delete waited for the one call in flight, not for the lease to run out.
    expect(Date.now() - deletedAt).toBeLessThan(leaseMs / 4);
    // Read the agent directly (not through the proxy): the host has no domain of it.
    expect((await listDomains(agentAddress)).map((d) => d.vmId)).not.toContain(id);
    expect((await cluster.api.getNode("h1")).allocated).toEqual({ vcpus: 0, memoryMib: 0, diskGib: 0 });
  }, leaseMs);
});
