// Stale reports must not undo operations. Before, a heartbeat whose domain states were read before
// a force-stop arrived after it and set the VM back to RUNNING. Now every domain report carries the
// agent's generation of that state, StopVm stores the generation of the agent's answer, and the
// scheduler ignores reports older than it; late beats (older seq of the same boot) change nothing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import { AgentServiceClient, DomainState, NodeRegistryServiceClient, VmState, type DomainStatus, HeartbeatRequest, type Vm } from "@drover/proto";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

describe("a report taken before an operation", () => {
  let cluster: TestCluster;
  let vm: Vm;

  function unary<Res>(client: object, method: string, req: object): Promise<Res> {
    const fn = (client as Record<string, (r: object, cb: (e: ServiceError | null, res: Res) => void) => void>)[method]!;
    return new Promise((resolve, reject) => fn.call(client, req, (e, res) => (e ? reject(e) : resolve(res))));
  }
  const heartbeat = (req: Partial<HeartbeatRequest>) => {
    const client = new NodeRegistryServiceClient(cluster.scheduler.address, credentials.createInsecure());
    return unary(client, "heartbeat", HeartbeatRequest.fromPartial({ name: "h", ...req })).finally(() => client.close());
  };

  beforeAll(async () => {
    cluster = await startTestCluster([{ name: "h", vcpus: 4, memoryMib: 8192 }]);
    [vm] = (await cluster.api.createVms({ template: vmSpec("s", 1, 256), count: 1 })).vms as [Vm];
    await waitFor("RUNNING", async () => ((await cluster.api.getVm(vm.id)).state === VmState.VM_STATE_RUNNING ? true : undefined));
  });
  afterAll(() => cluster?.stop());

  it("does not set a force-stopped VM back to RUNNING", async () => {
    const agent = cluster.agents[0]!;
    // What a heartbeat read before the stop: the domain RUNNING, at the agent's generation then.
    const client = new AgentServiceClient(agent.address, credentials.createInsecure());
    const before = (await unary<{ domain: DomainStatus }>(client, "startDomain", { vmId: vm.id }).finally(() => client.close())).domain;
    expect(before.state).toBe(DomainState.DOMAIN_STATE_RUNNING);
    expect(before.generation).toBeGreaterThan(0);
    agent.pauseHeartbeats();

    const stop = cluster.api.vms;
    await unary(stop, "stopVm", { id: vm.id, force: true });
    expect((await cluster.api.getVm(vm.id)).state).toBe(VmState.VM_STATE_STOPPED);

    // That beat arrives now (as the newest beat of a later boot, so only its report's age can stop it).
    const late = "ffffffffffff-00000000-0000-0000-0000-000000000000";
    await heartbeat({ bootId: late, seq: 1, domains: [before] });
    expect((await cluster.api.getVm(vm.id)).state).toBe(VmState.VM_STATE_STOPPED);

    // A report from after the stop still counts: the guest was started behind the scheduler's back.
    await heartbeat({ bootId: late, seq: 2, domains: [{ ...before, generation: before.generation + 1_000_000 }] });
    expect((await cluster.api.getVm(vm.id)).state).toBe(VmState.VM_STATE_RUNNING);

    // A beat with an older seq than the last applied is ignored, whatever it says.
    await heartbeat({ bootId: late, seq: 1, domains: [{ ...before, state: DomainState.DOMAIN_STATE_SHUTOFF, generation: before.generation + 2_000_000 }] });
    expect((await cluster.api.getVm(vm.id)).state).toBe(VmState.VM_STATE_RUNNING);
  });
});
