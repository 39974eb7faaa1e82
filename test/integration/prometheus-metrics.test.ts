import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type RunningAgent } from "@drover/agent";
import { VmState } from "@drover/proto";
import { testHostUri } from "@drover/agent/testing";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { metricTypes } from "../support/exposition.js";
import { hasPromtool, promtool } from "../support/promtool.js";
import { vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

// Both /metrics endpoints as Prometheus scrapes them: the agent with process
// metrics on, as the drover-agent binary runs, after one VM went through.
describe("the /metrics endpoints", () => {
  let cluster: TestCluster;
  let agent: RunningAgent;
  const bodies: Record<string, string> = {};

  beforeAll(async () => {
    cluster = await startTestCluster([]);
    agent = await startAgent(
      {
        insecure: true,
        nodeName: "metrics-host",
        libvirtUri: testHostUri({ vcpus: 8, memoryMib: 8192 }),
        listen: "127.0.0.1:0",
        schedulerAddress: cluster.scheduler.address,
        heartbeatIntervalMs: 200,
        metricsListen: "127.0.0.1:0",
      },
      { log: () => {}, processMetrics: true },
    );
    await agent.registered();
    const { vms } = await cluster.api.createVms({ template: vmSpec("scraped", 1, 256) });
    await waitFor("the VM running", async () => ((await cluster.api.getVm(vms[0]!.id)).state === VmState.VM_STATE_RUNNING ? true : undefined));
    const scrape = async (address: string | undefined) => (await fetch(`http://${address}/metrics`)).text();
    bodies.scheduler = await scrape(cluster.scheduler.metricsAddress);
    bodies.agent = await scrape(agent.metricsAddress);
  });
  afterAll(async () => {
    await agent?.stop();
    await cluster?.stop();
  });

  it.each(["scheduler", "agent"])("%s: no gauge or untyped metric is named *_total (that suffix means counter)", (name) => {
    const types = metricTypes(bodies[name]!);
    expect(types.size).toBeGreaterThan(5);
    if (name === "agent") expect(types.get("drover_agent_nodejs_active_handles")).toBe("gauge");
    const misnamed = [...types].filter(([family, type]) => family.endsWith("_total") && type !== "counter");
    expect(misnamed).toEqual([]);
  });

  it.skipIf(!hasPromtool).each(["scheduler", "agent"])("%s: passes promtool check metrics", (name) => {
    const r = promtool(["check", "metrics"], bodies[name]);
    expect(r.output).toBe("");
    expect(r.status).toBe(0);
  });
});
