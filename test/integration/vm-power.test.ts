import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status, type ServiceError } from "@grpc/grpc-js";
import { DomainState, VmState, type Vm } from "@drover/proto";
import { listDomains } from "../support/agent-client.js";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { rejects, vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

// StartVm, StopVm and RebootVm end to end: the scheduler checks the VM's state, calls its node's
// agent, and records the new state; the domain on the host follows.
describe("start, stop and reboot a VM", () => {
  let cluster: TestCluster;
  let vm: Vm;

  /** A VmService power call as a promise. */
  function power(method: "startVm" | "stopVm" | "rebootVm", id: string, force = false): Promise<Vm> {
    const client = cluster.api.vms;
    const fn = client[method] as unknown as (req: object, cb: (err: ServiceError | null, res: { vm: Vm }) => void) => void;
    return new Promise((resolve, reject) => fn.call(client, { id, force }, (err, res) => (err ? reject(err) : resolve(res.vm))));
  }
  const domainState = async () => {
    const agent = cluster.agents.find((a) => a.name === vm.node)!;
    return (await listDomains(agent.address)).find((d) => d.vmId === vm.id)?.state;
  };

  beforeAll(async () => {
    cluster = await startTestCluster([{ name: "h", vcpus: 4, memoryMib: 8192 }]);
    [vm] = (await cluster.api.createVms({ template: vmSpec("p", 1, 256), count: 1 })).vms as [Vm];
    await waitFor("RUNNING", async () => ((await cluster.api.getVm(vm.id)).state === VmState.VM_STATE_RUNNING ? true : undefined));
  });
  afterAll(() => cluster?.stop());

  it("stops a RUNNING VM and starts it again; the domain follows", async () => {
    expect((await power("stopVm", vm.id, true)).state).toBe(VmState.VM_STATE_STOPPED);
    expect(await domainState()).toBe(DomainState.DOMAIN_STATE_SHUTOFF);
    // Stopping a STOPPED VM is no error and changes nothing.
    expect((await power("stopVm", vm.id)).state).toBe(VmState.VM_STATE_STOPPED);

    expect((await power("startVm", vm.id)).state).toBe(VmState.VM_STATE_RUNNING);
    expect(await domainState()).toBe(DomainState.DOMAIN_STATE_RUNNING);
    expect((await power("startVm", vm.id)).state).toBe(VmState.VM_STATE_RUNNING);
  });

  it("reboots a RUNNING VM, which stays RUNNING", async () => {
    expect((await power("rebootVm", vm.id)).state).toBe(VmState.VM_STATE_RUNNING);
    expect(await domainState()).toBe(DomainState.DOMAIN_STATE_RUNNING);
  });

  it("refuses a reboot of a STOPPED VM with FAILED_PRECONDITION naming the state", async () => {
    await power("stopVm", vm.id, true);
    const err = await rejects(power("rebootVm", vm.id));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toBe(`vm ${vm.id} is STOPPED; this needs it to be RUNNING`);
    await power("startVm", vm.id);
  });

  it("answers NOT_FOUND for an unknown VM, repeating the id as written, and INVALID_ARGUMENT for no UUID", async () => {
    const unknown = "0F8FAD5B-D9CB-469F-A165-70867728950E";
    for (const method of ["startVm", "stopVm", "rebootVm"] as const) {
      const err = await rejects(power(method, unknown));
      expect(err.code).toBe(status.NOT_FOUND);
      expect(err.details).toBe(`vm ${unknown} not found`);
    }
    const bad = await rejects(power("stopVm", "nope"));
    expect(bad.code).toBe(status.INVALID_ARGUMENT);
    expect(bad.details).toMatch(/^id: must be a UUID/);
  });

  it("accepts an upper-case id for a known VM", async () => {
    expect((await power("rebootVm", vm.id.toUpperCase())).id).toBe(vm.id);
  });
});
