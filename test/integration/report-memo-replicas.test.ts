import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { setTimeout as sleep } from "node:timers/promises";
import { VmState } from "@drover/proto";
import { transitionVm } from "@drover/store";
import { listDomains } from "../support/agent-client.js";
import { startReplicas, type Replicas } from "../support/replicas.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

// The heartbeat fast path (liveness/report-memo.ts) skips a node's reconcile while its report is
// unchanged; a full reconcile comes only every 30 s. A change to the node's VM rows made away from
// the replica its agent beats to (here: the VM FAILED, as a crash-loop timer on the other replica
// fails it) must still reach that replica at the node's next beats: its domain is then a stray.
describe("a change to a node's VMs made away from the replica the node beats to", () => {
  let r: Replicas;
  beforeAll(async () => {
    // "small" beats to replica 0 and cannot take the VM; "big" beats to replica 1.
    r = await startReplicas(2, { DROVER_TICK_MS: "50" }, [
      { name: "small", vcpus: 1, memoryMib: 1024 },
      { name: "big", vcpus: 8, memoryMib: 8192 },
    ], 200);
  }, 120_000);
  afterAll(() => r?.stop());

  it("is reconciled by the other replica within a few beats, not at its 30 s full check", async () => {
    const [vm] = (await r.clients[0]!.createVms({ template: vmSpec("m", 2, 1024), count: 1 })).vms;
    await waitFor("VM RUNNING", async () => ((await r.clients[0]!.getVm(vm!.id)).state === VmState.VM_STATE_RUNNING ? true : undefined));
    const big = r.agents[1]!;
    expect((await listDomains(big.address)).map((d) => d.vmId)).toContain(vm!.id);
    // Ten beats of an unchanged report: replica 1 now takes them on the fast path.
    await sleep(2000);
    expect(await transitionVm(r.sql, vm!.id, ["RUNNING"], "FAILED", { reason: "crash loop (set by the other replica)" })).not.toBeNull();
    const failedAt = Date.now();
    // Replica 1 answers a beat with the FAILED VM's domain to destroy; the agent destroys it.
    await waitFor("the FAILED VM's domain destroyed", async () => ((await listDomains(big.address)).some((d) => d.vmId === vm!.id) ? undefined : true), 20_000);
    // Well inside the full check's 30 s (about 28 s away here): a beat or two at 200 ms, with room for a loaded machine.
    expect(Date.now() - failedAt).toBeLessThan(15_000);
  });
});
