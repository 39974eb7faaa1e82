import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import { PlacementStrategy } from "@drover/proto";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { policy, rejects, vmSpec } from "../support/requests.js";

const vm = vmSpec;

describe("placement policy through the API", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster(
      [
        { name: "a1", vcpus: 8, memoryMib: 16384, labels: { zone: "a", disk: "ssd" } },
        { name: "a2", vcpus: 8, memoryMib: 16384, labels: { zone: "a" } },
        { name: "b1", vcpus: 32, memoryMib: 32768, labels: { zone: "b" } },
        { name: "b2", vcpus: 32, memoryMib: 32768, labels: { zone: "b" } },
      ],
      { cpuAllocationRatio: 1 },
    );
  });
  afterAll(() => cluster?.stop());

  it("keeps VMs on nodes matching hard label constraints", async () => {
    const res = await cluster.api.createVms({ template: vm("zb", 1, 512), count: 6, policy: policy({ constraints: ["zone in (b)"] }) });
    expect(new Set(res.vms.map((v) => v.node))).toEqual(new Set(["b1", "b2"]));
  });

  it("prefers nodes matching soft preferences", async () => {
    const res = await cluster.api.createVms({ template: vm("pref", 1, 512), count: 1, policy: policy({ preferences: ["disk=ssd"] }) });
    expect(res.vms[0]!.node).toBe("a1");
    expect(res.vms[0]!.placement!.scores["label-preference"]).toBe(100);
  });

  it("never puts two members of a hard anti-affinity group on one node; min_count allows a partial batch", async () => {
    const res = await cluster.api.createVms({ template: vm("aa", 1, 256), count: 5, minCount: 4, policy: policy({ antiAffinityGroup: "db" }) });
    expect(res.vms).toHaveLength(4);
    expect(new Set(res.vms.map((v) => v.node)).size).toBe(4);
    expect(res.unplaced).toBe(1);
    expect(res.unplacedReason).toBe("4 nodes: anti-affinity (group db)");
    // A later request in the same group finds every node taken.
    const err = await rejects(cluster.api.createVms({ template: vm("aa-more", 1, 256), count: 1, policy: policy({ antiAffinityGroup: "db" }) }));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
  });

  it("places all members of an affinity group on one node", async () => {
    const res = await cluster.api.createVms({ template: vm("af", 2, 1024), count: 4, policy: policy({ affinityGroup: "cache" }) });
    expect(new Set(res.vms.map((v) => v.node)).size).toBe(1);
  });

  it("places several shapes in one request, in one transaction", async () => {
    const before = (await cluster.api.getCapacity()).allocated!;
    const res = await cluster.api.createVms({
      groups: [
        { template: vm("small", 1, 512), count: 3 },
        { template: vm("large", 6, 8192), count: 2 },
      ],
      policy: policy({ strategy: PlacementStrategy.PLACEMENT_STRATEGY_PACK }),
    });
    expect(res.vms.map((v) => v.spec!.name).sort()).toEqual(["large-1", "large-2", "small-1", "small-2", "small-3"]);
    const after = (await cluster.api.getCapacity()).allocated!;
    expect(after.vcpus - before.vcpus).toBe(3 * 1 + 2 * 6);
    expect(after.memoryMib - before.memoryMib).toBe(3 * 512 + 2 * 8192);
  });

  it("rejects the whole request when min_count cannot be met, creating nothing", async () => {
    const before = await cluster.api.getCapacity();
    const err = await rejects(
      cluster.api.createVms({ groups: [{ template: vm("ok", 1, 256), count: 2 }, { template: vm("toobig", 64, 256), count: 1 }] }),
    );
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/^can place 2 of 3 VMs, min_count is 3: 4 nodes: insufficient cpu \(need 64 vCPUs, largest free among them \d+ vCPUs\)$/);
    expect((await cluster.api.getCapacity()).allocated).toEqual(before.allocated);
  });

  it("dry run predicts the real placement and creates nothing", async () => {
    const req = { template: vm("dry", 2, 2048), count: 5, policy: policy({ strategy: PlacementStrategy.PLACEMENT_STRATEGY_SPREAD }) };
    // Earlier VMs may still change state meanwhile: compare claims and VM counts, not states.
    const vmCount = async () => (await cluster.api.listVms({ pageSize: 1000 })).vms.length;
    const before = { allocated: (await cluster.api.getCapacity()).allocated, vms: await vmCount() };
    const dry = await cluster.api.createVms({ ...req, dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(dry.vms.every((v) => v.id === "" && v.placement!.node === v.node)).toBe(true);
    expect({ allocated: (await cluster.api.getCapacity()).allocated, vms: await vmCount() }).toEqual(before);
    const real = await cluster.api.createVms(req);
    const byName = (vms: typeof dry.vms) => Object.fromEntries(vms.map((v) => [v.spec!.name, v.node]));
    expect(byName(real.vms)).toEqual(byName(dry.vms));
  });

  it("shows why a VM is on its node", async () => {
    const [created] = (await cluster.api.createVms({ template: vm("why", 1, 256), count: 1 })).vms;
    const got = await cluster.api.getVm(created!.id);
    expect(got.placement!.node).toBe(got.node);
    expect(got.placement!.scores.spread).toBeGreaterThan(0);
    expect(got.placement!.totalScore).toBeGreaterThan(0);
    expect(got.placement!.feasibleNodes).toBeGreaterThan(0);
  });

  it("returns the same VMs for concurrent retries with one idempotency key", async () => {
    const req = { template: vm("idem", 1, 256), count: 3, idempotencyKey: "deploy-42" };
    const results = await Promise.all(Array.from({ length: 10 }, () => cluster.api.createVms(req)));
    const ids = results.map((r) => r.vms.map((v) => v.id).sort().join(","));
    expect(new Set(ids).size).toBe(1);
    const all = (await cluster.api.listVms({ pageSize: 1000 })).vms.filter((v) => v.spec!.name.startsWith("idem-"));
    expect(all).toHaveLength(3);
    const err = await rejects(cluster.api.createVms({ ...req, count: 4 }));
    expect(err.code).toBe(status.FAILED_PRECONDITION);
    expect(err.details).toMatch(/idempotency_key "deploy-42" was already used for a different request/);
  });

  it("applies per-node ratios and reservations set with UpdateNode", async () => {
    const used = (await cluster.api.getNode("a2")).allocated!;
    const node = await cluster.api.updateNode({ name: "a2", cpuAllocationRatio: 2, reserved: { vcpus: 2, memoryMib: 4096, diskGib: 0 } });
    expect(node.allocatable).toEqual({ vcpus: 14, memoryMib: 12288, diskGib: 1000 });
    // Room that exists only under the new ratio: 14 − used instead of 8 − used.
    const wanted = 14 - used.vcpus;
    expect(wanted).toBeGreaterThan(8 - used.vcpus);
    const err = await rejects(cluster.api.updateNode({ name: "a2", memoryAllocationRatio: 0 }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^memory_allocation_ratio: must be above 0/);
    const pinned = await cluster.api.createVms({ template: vm("big-on-a2", wanted, 256), count: 1, policy: policy({ constraints: ["zone=a", "!disk"] }) });
    expect(pinned.vms[0]!.node).toBe("a2");
    expect((await cluster.api.getNode("a2")).allocated!.vcpus).toBe(14);
  });
});
