import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "@drover/cli";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
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
