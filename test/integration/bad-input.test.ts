import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import type { CreateVmsRequest, VmSpec } from "@drover/proto";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { policy, rejects, vmSpec } from "../support/requests.js";

const good: VmSpec = vmSpec("ok", 1, 512);
const withSpec = (over: Partial<VmSpec>, req: Partial<CreateVmsRequest> = {}) => ({ template: { ...good, ...over }, count: 1, ...req });

// Each bad request must fail with INVALID_ARGUMENT naming the field, and create nothing. The full
// table of rules is packages/scheduler/src/api/validation.test.ts; these rows check that its
// messages reach a client as statuses, one per part of the request.
const BAD: [string, Partial<CreateVmsRequest>, RegExp][] = [
  ["no template", { count: 1 }, /^template: is required/],
  ["zero vcpus", withSpec({ vcpus: 0 }), /^template\.vcpus: must be a whole number from 1 to 1024, got 0/],
  ["min_count above count", withSpec({}, { count: 2, minCount: 3 }), /^min_count: must not exceed count \(2\), got 3/],
  ["bad constraint", withSpec({}, { policy: policy({ constraints: ["zone=="] }) }), /^policy\.constraints\[0\]: invalid label expression/],
  ["affinity and anti-affinity on one group", withSpec({}, { policy: policy({ antiAffinityGroup: "g", affinityGroup: "g" }) }), /^policy\.affinity_group: cannot also be/],
];

describe("bad input gets a clear error and creates nothing", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster([
      { name: "h1", vcpus: 2, memoryMib: 4096 },
      { name: "h2", vcpus: 2, memoryMib: 4096 },
    ]);
  });
  afterAll(() => cluster?.stop());

  it.each(BAD)("%s", async (_, req, message) => {
    const err = await rejects(cluster.api.createVms(req));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(message);
  });

  it("reports per-reason counts when nothing fits", async () => {
    await cluster.api.cordonNode("h2");
    const err = await rejects(cluster.api.createVms(withSpec({ memoryMib: 8192 })));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe(
      "can place 0 of 1 VMs, min_count is 1: 1 node: cordoned; 1 node: insufficient memory (need 8192 MiB, largest free among them 4096 MiB)",
    );
  });

  it("answers NOT_FOUND for unknown nodes and VMs", async () => {
    for (const call of [
      () => cluster.api.getNode("nope"),
      () => cluster.api.cordonNode("nope"),
      () => cluster.api.listVms({ node: "nope" }),
      () => cluster.api.getCapacity("nope"),
      () => cluster.api.getVm("0f8fad5b-d9cb-469f-a165-70867728950e"),
    ]) {
      const err = await rejects(call());
      expect(err.code).toBe(status.NOT_FOUND);
      expect(err.details).toMatch(/not found/);
    }
    const err = await rejects(cluster.api.getVm("not-a-uuid"));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^id: must be a UUID/);
  });

  it("left no VM, claim or event behind", async () => {
    expect((await cluster.api.listVms()).vms).toEqual([]);
    const cap = await cluster.api.getCapacity();
    expect(cap.allocated).toEqual({ vcpus: 0, memoryMib: 0, diskGib: 0 });
    const [row] = await cluster.scheduler.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM outbox WHERE subject LIKE 'drover.vm.%'`;
    expect(row?.count).toBe(0);
  });
});
