import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { VmState } from "@drover/proto";
import { claimLedger } from "@drover/store/testing";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { rejects, vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

// A retention of 3 s, so the scheduler's own job purges deleted VMs while the test watches.
describe("VM retention (DROVER_VM_RETENTION_MS)", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster([{ name: "h1", vcpus: 16, memoryMib: 32768 }], { vmRetentionMs: 3000 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  const running = async (ids: string[]) =>
    waitFor("VMs RUNNING", async () => {
      const vms = await Promise.all(ids.map((id) => cluster.api.getVm(id)));
      return vms.every((v) => v.state === VmState.VM_STATE_RUNNING) ? true : undefined;
    });

  it("purges deleted VMs after the retention: GetVm is NOT_FOUND, claims and usage are the sums of the VMs left, and the idempotency key is free again", async () => {
    const keep = await cluster.api.createVms({ template: vmSpec("keep", 1, 512), count: 2 });
    const gone = await cluster.api.createVms({ template: vmSpec("gone", 2, 1024), count: 3, idempotencyKey: "retention-key" });
    await running([...keep.vms, ...gone.vms].map((v) => v.id));
    for (const v of gone.vms) await cluster.api.deleteVm(v.id);

    // DELETED first (the history is kept for the retention), then purged.
    await waitFor("the VMs DELETED", async () => {
      const vms = await Promise.all(gone.vms.map((v) => cluster.api.getVm(v.id).catch(() => undefined)));
      return vms.every((v) => v?.state === VmState.VM_STATE_DELETED) ? true : undefined;
    });
    await waitFor(
      "the deleted VMs purged",
      async () => {
        const left = await cluster.scheduler.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM vms WHERE id = ANY(${gone.vms.map((v) => v.id)}::uuid[])`;
        return left[0]!.n === 0 ? true : undefined;
      },
      30_000,
    );
    for (const v of gone.vms) expect((await rejects(cluster.api.getVm(v.id))).code).toBe(status.NOT_FOUND);
    expect((await cluster.api.listVms()).vms.map((v) => v.id).sort()).toEqual(keep.vms.map((v) => v.id).sort());

    // The node's claims and the project's usage are those of the two VMs left.
    const ledger = await claimLedger(cluster.scheduler.sql);
    expect(ledger).toEqual([{ node: "h1", allocated: { vcpus: 2, memoryMib: 1024, diskGib: 0 }, claimed: { vcpus: 2, memoryMib: 1024, diskGib: 0 } }]);
    const [p] = await cluster.scheduler.sql<{ vcpus: number; mem: number; vms: number }[]>`
      SELECT used_vcpus AS vcpus, used_memory_mib AS mem, used_vms AS vms FROM projects WHERE name = 'default'`;
    expect(p).toEqual({ vcpus: 2, mem: 1024, vms: 2 });

    // The request went with its last VM: the same key now makes new VMs.
    const again = await cluster.api.createVms({ template: vmSpec("gone", 2, 1024), count: 3, idempotencyKey: "retention-key" });
    expect(again.vms).toHaveLength(3);
    expect(again.vms.map((v) => v.id).some((id) => gone.vms.some((g) => g.id === id))).toBe(false);
  });

  it("never purges a VM that is not dead, however old", async () => {
    const old = await cluster.api.createVms({ template: vmSpec("old", 1, 256), count: 1 });
    await running([old.vms[0]!.id]);
    await cluster.scheduler.sql`UPDATE vms SET updated_at = now() - interval '30 days' WHERE id = ${old.vms[0]!.id}`;
    // Several runs of the job (it runs every second at this retention), the VM older than it.
    await new Promise((r) => setTimeout(r, 3000));
    expect((await cluster.api.getVm(old.vms[0]!.id)).state).toBe(VmState.VM_STATE_RUNNING);
  });
});
