import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { status } from "@grpc/grpc-js";
import type { Vm } from "@drover/proto";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { rejects, vmSpec } from "../support/requests.js";

const BULK = 60;

// ListVms pages on (created_at, id). A bulk's VMs share one created_at (one statement), to the
// microsecond: a cursor that kept only milliseconds repeated pages and lost VMs. Every page size
// from 1 to past the end must return each VM exactly once, and stop.
describe("ListVms paging over VMs that share a creation time", () => {
  let cluster: TestCluster;
  let ids: string[] = [];
  let created: Vm[] = [];
  beforeAll(async () => {
    cluster = await startTestCluster([{ name: "h1", vcpus: 128, memoryMib: 65536 }]);
    const before = await cluster.api.createVms({ template: vmSpec("before", 1, 16), count: 1 });
    const bulk = await cluster.api.createVms({ template: vmSpec("bulk", 1, 16), count: BULK });
    const after = await cluster.api.createVms({ template: vmSpec("after", 1, 16), count: 1 });
    created = [...before.vms, ...bulk.vms, ...after.vms];
    ids = created.map((v) => v.id);
    expect(new Set(bulk.vms.map((v) => JSON.stringify(v.createdAt))).size).toBe(1);
  });

  it("gives timestamps to the microsecond Postgres keeps, in CreateVms, GetVm and ListVms alike", async () => {
    const rows = await cluster.scheduler.sql<{ id: string; micros: string }[]>`
      SELECT id, (extract(epoch FROM created_at) * 1000000)::int8::text AS micros FROM vms`;
    const stored = new Map(rows.map((r) => [r.id, BigInt(r.micros)]));
    const micros = (t: { seconds: number; nanos: number } | undefined) => BigInt(t!.seconds) * 1_000_000n + BigInt(t!.nanos / 1000);
    const listed = (await cluster.api.listVms({ pageSize: 1000 })).vms;
    expect(listed).toHaveLength(ids.length);
    for (const v of listed) expect(micros(v.createdAt)).toBe(stored.get(v.id));
    for (const v of created) expect(micros(v.createdAt), "CreateVms response").toBe(stored.get(v.id));
    const one = await cluster.api.getVm(ids[0]!);
    expect(micros(one.createdAt)).toBe(stored.get(one.id));
    // Not all rounded to the millisecond (a chance of 1 in 10^9 over three statements).
    expect([...stored.values()].some((m) => m % 1000n !== 0n)).toBe(true);
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

// ListNodes pages by name (unique): page_size 0 keeps the old answer, all nodes at once.
describe("ListNodes paging", () => {
  const NAMES = ["a1", "a10", "a2", "b", "B", "c.x", "c_y"];
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster(NAMES.map((name) => ({ name, vcpus: 2, memoryMib: 2048 })));
  });
  afterAll(() => cluster?.stop());

  it("returns every node exactly once at every page size from 1 to N+1, and all of them with page_size 0", async () => {
    const all = (await cluster.api.listNodesPage()).nodes.map((n) => n.name);
    expect([...all].sort()).toEqual([...NAMES].sort());
    for (let size = 1; size <= NAMES.length + 1; size++) {
      const seen: string[] = [];
      let token = "";
      let pages = 0;
      do {
        const res = await cluster.api.listNodesPage({ pageSize: size, pageToken: token });
        seen.push(...res.nodes.map((n) => n.name));
        token = res.nextPageToken;
        pages++;
        expect(pages, `page size ${size} does not end`).toBeLessThanOrEqual(NAMES.length + 1);
      } while (token !== "");
      expect(seen, `page size ${size}`).toEqual(all);
      expect(pages).toBe(Math.ceil(NAMES.length / size));
    }
  });

  it("refuses a forged token and an oversized page, naming the field", async () => {
    for (const [req, message] of [
      [{ pageSize: 2, pageToken: "bm9wZQ" }, /^page_token: is not a next_page_token returned by ListNodes/],
      [{ pageSize: 0, pageToken: Buffer.from(JSON.stringify(["node", "a1"])).toString("base64url") }, /^page_token: needs a page_size/],
      [{ pageSize: 1001 }, /^page_size: must be at most 1000/],
    ] as const) {
      const err = await rejects(cluster.api.listNodesPage(req));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(message);
    }
  });
});
