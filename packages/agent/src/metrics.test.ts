import { randomUUID } from "node:crypto";
import { type ServiceError, credentials } from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { AgentServiceClient } from "@drover/proto";
import { type RunningAgent, startAgent } from "./agent.js";
import { testHostUri } from "./test-host.js";

describe("metrics", () => {
  const agents: RunningAgent[] = [];
  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
  });

  it("serves per-agent metrics for two agents in one process", async () => {
    for (const [name, vcpus] of [["m-1", 4], ["m-2", 32]] as const) {
      agents.push(
        await startAgent(
          {
            insecure: true,
            nodeName: name,
            libvirtUri: testHostUri({ vcpus, memoryMib: 2048 }),
            listen: "127.0.0.1:0",
            schedulerAddress: "127.0.0.1:1",
            clusterId: "5d0c3f0e-8a41-4c1e-9b7a-2f64c8d1e901",
            metricsListen: "127.0.0.1:0",
          },
          { log: () => {} },
        ),
      );
    }
    const [a, b] = agents as [RunningAgent, RunningAgent];
    const client = new AgentServiceClient(a.address, credentials.createInsecure());
    await new Promise((resolve, reject) =>
      client.ensureDomain(
        { vmId: randomUUID(), spec: { name: "m", vcpus: 1, memoryMib: 64, diskGib: 0, image: "", userData: "", network: "", labels: {}, kernel: "", initrd: "", cmdline: "", restartPolicy: "" } },
        (e: ServiceError | null, r: unknown) => (e ? reject(e) : resolve(r)),
      ),
    );
    client.close();

    const scrape = async (agent: RunningAgent) => (await fetch(`http://${agent.metricsAddress}/metrics`)).text();
    const ma = await scrape(a);
    const mb = await scrape(b);
    expect(ma).toContain('drover_agent_host_vcpus{node="m-1"} 4');
    expect(mb).toContain('drover_agent_host_vcpus{node="m-2"} 32');
    expect(ma).toContain(`drover_agent_host_memory_bytes{node="m-1"} ${2048 * 2 ** 20}`);
    expect(ma).toContain('drover_agent_domains{state="running",node="m-1"} 1');
    expect(mb).toContain('drover_agent_domains{state="running",node="m-2"} 0');
    expect(ma).toMatch(/drover_agent_libvirt_operation_duration_seconds_count\{[^}]*op="define",result="ok"[^}]*\} 1\n/);
    expect(ma).toContain('drover_agent_domain_type{type="test",node="m-1"} 1');
    expect(ma).toContain('drover_agent_domain_type{type="kvm",node="m-1"} 0');
    expect(ma).toContain('drover_agent_libvirt_probe_seconds{node="m-1"} 0');
    expect((await fetch(`http://${a.metricsAddress}/nope`)).status).toBe(404);
  });
});
