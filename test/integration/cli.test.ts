import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "@drover/cli";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

// The drover CLI against a real scheduler: the README's bulk-create example.
describe("drover CLI end to end", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster([
      { name: "a", vcpus: 4, memoryMib: 8192 },
      { name: "b", vcpus: 8, memoryMib: 16384 },
    ]);
  });
  afterAll(() => cluster?.stop());

  async function drover(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = "";
    let err = "";
    const code = await run(argv, { DROVER_ADDR: cluster.scheduler.address, DROVER_INSECURE: "1", HOME: "/nonexistent-drover-home" }, { stdout: (s) => (out += s), stderr: (s) => (err += s) });
    return { code, out, err };
  }

  it("bulk-creates VMs, lists them and reads capacity", async () => {
    const created = await drover("vm", "create", "web", "--vcpus", "1", "--memory", "1G", "--count", "10", "-o", "json");
    expect(created.code).toBe(0);
    const ids = (JSON.parse(created.out) as { vms: { id: string }[] }).vms.map((v) => v.id);
    expect(ids).toHaveLength(10);
    await waitFor("all RUNNING", async () => {
      const listed = await drover("vm", "list", "--state", "running", "-o", "json");
      const vms = (JSON.parse(listed.out) as { vms?: unknown[] }).vms ?? [];
      return vms.length === 10 ? true : undefined;
    });
    const cap = await drover("capacity");
    expect(cap.code).toBe(0);
    expect(cap.out).toMatch(/vCPU:\s+10 allocated \/ 48 allocatable/);
    expect(cap.out).toMatch(/RUNNING=10/);
  });

  it("turns a server refusal into exit code 1 with the status and message", async () => {
    const res = await drover("vm", "create", "big", "--vcpus", "1", "--memory", "64G");
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/^error: RESOURCE_EXHAUSTED: can place 0 of 1 VMs, min_count is 1: 2 nodes: insufficient memory/);
  });
});

// `vm list --all` follows page tokens; over a bulk whose VMs share one creation time it used to
// repeat a page forever (tokens kept milliseconds). 150 VMs: more than the CLI's page of 100.
describe("drover vm list --all over one bulk", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster([{ name: "big", vcpus: 256, memoryMib: 65536 }]);
  });
  afterAll(() => cluster?.stop());

  it("lists every VM once and ends", async () => {
    const created = await cluster.api.createVms({ template: vmSpec("bulk", 1, 16), count: 150 });
    let out = "";
    const code = await Promise.race([
      run(["vm", "list", "--all", "-o", "json"], { DROVER_ADDR: cluster.scheduler.address, DROVER_INSECURE: "1", HOME: "/nonexistent-drover-home" }, { stdout: (s) => (out += s), stderr: () => {} }),
      new Promise<string>((r) => setTimeout(() => r("still listing after 20 s"), 20_000)),
    ]);
    expect(code).toBe(0);
    const ids = ((JSON.parse(out) as { vms?: { id: string }[] }).vms ?? []).map((v) => v.id);
    expect(ids.length).toBe(150);
    expect(new Set(ids)).toEqual(new Set(created.vms.map((v) => v.id)));
  });
});
