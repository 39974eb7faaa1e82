import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";

const BULK = 60;

// ListVms pages on (created_at, id). A bulk's VMs share one created_at (one statement), to the
// microsecond: a cursor that kept only milliseconds repeated pages and lost VMs. Every page size
// from 1 to past the end must return each VM exactly once, and stop.
describe("ListVms paging over VMs that share a creation time", () => {
  let cluster: TestCluster;
  let ids: string[] = [];
  beforeAll(async () => {
    cluster = await startTestCluster([{ name: "h1", vcpus: 128, memoryMib: 65536 }]);
    const before = await cluster.api.createVms({ template: vmSpec("before", 1, 16), count: 1 });
    const bulk = await cluster.api.createVms({ template: vmSpec("bulk", 1, 16), count: BULK });
    const after = await cluster.api.createVms({ template: vmSpec("after", 1, 16), count: 1 });
    ids = [...before.vms, ...bulk.vms, ...after.vms].map((v) => v.id);
    expect(new Set(bulk.vms.map((v) => v.createdAt!.getTime())).size).toBe(1);
  });
  afterAll(() => cluster?.stop());

  it("returns every VM exactly once at every page size from 1 to N+1", async () => {
    const n = ids.length;
    for (let size = 1; size <= n + 1; size++) {
      const seen: string[] = [];
      let token = "";
      let pages = 0;
      do {
        const res = await cluster.api.listVms({ pageSize: size, pageToken: token });
        seen.push(...res.vms.map((v) => v.id));
        token = res.nextPageToken;
        pages++;
        expect(pages, `page size ${size} does not end`).toBeLessThanOrEqual(n + 1);
      } while (token !== "");
      expect(seen.length, `page size ${size}`).toBe(n);
      expect(new Set(seen).size, `page size ${size}`).toBe(n);
      expect([...seen].sort()).toEqual([...ids].sort());
      expect(pages, `page size ${size}`).toBe(Math.max(1, Math.ceil(n / size)));
    }
  });
});
