// The scheduler's agent client (its node:http2 unary calls, agent-http2.ts) against real agents on
// libvirt's test driver: answers, the agent's refusals with their codes, an agent that is down
// and one that comes back, and mTLS that accepts only the node's own certificate.
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomUUID } from "node:crypto";
import { DomainState, Image, ImageFormat } from "@drover/proto";
import { loadClusterCa } from "@drover/scheduler";
import { agentCallError, AgentClients } from "../../packages/scheduler/src/dispatch/agent-clients.js";
import { SchedulerIdentity } from "../../packages/scheduler/src/tls/scheduler-identity.js";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { rejects, vmSpec } from "../support/requests.js";
import { startSecureCluster, type SecureCluster } from "../support/secure-cluster.js";
import { startTcpProxy } from "../support/tcp-proxy.js";
import { startTestAgents } from "../support/test-agents.js";

const quiet = () => {};

describe("agent calls over node:http2, insecure", () => {
  let cluster: TestCluster;
  const agents = new AgentClients(2000);
  let node: { name: string; address: string };

  beforeAll(async () => {
    cluster = await startTestCluster([{ name: "h1", vcpus: 8, memoryMib: 16384 }]);
    node = { name: "h1", address: cluster.agents[0]!.address };
  });
  afterAll(async () => {
    agents.close();
    await cluster?.stop();
  });

  it("defines and starts a domain, stops and destroys it", async () => {
    const vmId = randomUUID();
    const domain = await agents.ensureDomain(node, { vmId, spec: vmSpec("h2-vm", 1, 256) });
    expect(domain).toMatchObject({ vmId, state: DomainState.DOMAIN_STATE_RUNNING });
    expect((await agents.stopDomain(node, vmId, true))?.state).toBe(DomainState.DOMAIN_STATE_SHUTOFF);
    await agents.destroyDomain(node, vmId);
  });

  it("keeps the agent's NOT_FOUND and FAILED_PRECONDITION with its words", async () => {
    const missing = randomUUID();
    const gone = await rejects(agents.startDomain(node, missing));
    expect(gone.code).toBe(status.NOT_FOUND);
    expect(agentCallError("h1", gone).failure).toBe("not-found");
    const image = Image.fromPartial({ name: "not-there", format: ImageFormat.IMAGE_FORMAT_QCOW2, sizeBytes: 1024, sha256: "0".repeat(64) });
    const refused = await rejects(agents.ensureDomain(node, { vmId: randomUUID(), spec: vmSpec("no-image", 1, 256, { image: "not-there", diskGib: 1 }), image }));
    expect(refused.code).toBe(status.FAILED_PRECONDITION);
    expect(refused.details).toContain("not-there");
    expect(agentCallError("h1", refused)).toMatchObject({ failure: "wrong-state", message: `agent on h1: ${refused.details}` });
  });

  it("answers UNAVAILABLE while the agent is down, and reaches it again once it restarts at the same address", async () => {
    const vmId = randomUUID();
    await agents.ensureDomain(node, { vmId, spec: vmSpec("before-restart", 1, 256) });
    await cluster.agents[0]!.stop();
    const down = await rejects(agents.startDomain(node, vmId));
    expect(down.code).toBe(status.UNAVAILABLE);
    expect(down.details).toContain(`cannot reach the agent at ${node.address}: connect ECONNREFUSED`);
    expect(agentCallError("h1", down).failure).toBe("unreachable");
    const [again] = await startTestAgents([{ name: "h1", vcpus: 8, memoryMib: 16384, listen: node.address }], {
      scheduler: cluster.scheduler.address,
      heartbeatIntervalMs: 200,
      log: quiet,
    });
    cluster.agents[0] = again!;
    // A new agent process on the test driver has no domains: NOT_FOUND is its answer, over a new connection.
    let answer: status | undefined;
    for (let i = 0; i < 20 && answer !== status.NOT_FOUND; i++) {
      answer = await agents.startDomain(node, vmId).then(() => status.OK, (e: { code: status }) => e.code);
      if (answer === status.UNAVAILABLE) await sleep(100);
    }
    expect(answer).toBe(status.NOT_FOUND);
    expect((await agents.ensureDomain(node, { vmId, spec: vmSpec("after-restart", 1, 256) }))?.state).toBe(DomainState.DOMAIN_STATE_RUNNING);
  });
});

describe("agent calls over node:http2 through a connection that goes half-open", () => {
  let cluster: TestCluster;
  let proxy: Awaited<ReturnType<typeof startTcpProxy>>;
  // Keepalive 300 ms / 300 ms against a 5 s deadline: without PINGs a call on the dead connection waits out the deadline.
  const agents = new AgentClients(5000, undefined, { keepalive: { timeMs: 300, timeoutMs: 300 } });
  let node: { name: string; address: string };

  beforeAll(async () => {
    cluster = await startTestCluster([{ name: "h1", vcpus: 8, memoryMib: 16384 }]);
    const [host, port] = cluster.agents[0]!.address.split(":");
    proxy = await startTcpProxy({ host: host!, port: Number(port) });
    node = { name: "h1", address: `127.0.0.1:${proxy.port}` };
  });
  afterAll(async () => {
    agents.close();
    await proxy?.close();
    await cluster?.stop();
  });

  /** The call's error and how long it took. */
  async function timed(call: Promise<unknown>): Promise<{ code: status; details: string; ms: number }> {
    const t0 = Date.now();
    const err = await rejects(call);
    return { code: err.code, details: err.details, ms: Date.now() - t0 };
  }

  it("finds a connection that died while idle within the keepalive timeout, and the next call dials anew", async () => {
    const vmId = randomUUID();
    await agents.ensureDomain(node, { vmId, spec: vmSpec("half-open-idle", 1, 256) });
    await sleep(400); // idle for longer than the keepalive time
    proxy.blackhole();
    const dead = await timed(agents.stopDomain(node, vmId, true));
    expect(dead.code).toBe(status.UNAVAILABLE);
    expect(dead.details).toContain("no answer to a keepalive PING within 0.3 s");
    expect(dead.ms).toBeLessThan(2500);
    expect((await agents.stopDomain(node, vmId, true))?.state).toBe(DomainState.DOMAIN_STATE_SHUTOFF);
  });

  it("fails a call on a connection that dies while in use within keepalive time + timeout, and the next call dials anew", async () => {
    const vmId = randomUUID();
    await agents.ensureDomain(node, { vmId, spec: vmSpec("half-open-busy", 1, 256) });
    proxy.blackhole(); // just used: the PING goes out once the agent has been silent for 300 ms
    const dead = await timed(agents.stopDomain(node, vmId, true));
    expect(dead.code).toBe(status.UNAVAILABLE);
    expect(dead.details).toContain("keepalive PING");
    expect(dead.ms).toBeLessThan(2500);
    expect((await agents.stopDomain(node, vmId, true))?.state).toBe(DomainState.DOMAIN_STATE_SHUTOFF);
  });
});

describe("agent calls over node:http2, mTLS", () => {
  let cluster: SecureCluster;
  let identity: SchedulerIdentity;
  let agents: AgentClients;

  beforeAll(async () => {
    cluster = await startSecureCluster(["node-a", "node-b"]);
    identity = await SchedulerIdentity.start(await loadClusterCa(join(cluster.dir, "ca")), { hosts: ["127.0.0.1"], lifetimeMs: 600_000, log: quiet });
    agents = new AgentClients(2000, identity);
  });
  afterAll(async () => {
    agents?.close();
    identity?.stop();
    await cluster?.stop();
  });

  const addressOf = (name: string) => cluster.agents.find((a) => a.name === name)!.address;

  it("reaches each node's agent with the scheduler's certificate", async () => {
    for (const name of ["node-a", "node-b"]) {
      const vmId = randomUUID();
      expect((await agents.ensureDomain({ name, address: addressOf(name) }, { vmId, spec: vmSpec(`tls-${name}`, 1, 256) }))?.vmId).toBe(vmId);
    }
  });

  it("refuses to send anything to another node's agent at a node's address", async () => {
    const vmId = randomUUID();
    const err = await rejects(agents.ensureDomain({ name: "node-a", address: addressOf("node-b") }, { vmId, spec: vmSpec("misdirected", 1, 256) }));
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.details).toContain("the agent dialed for node node-a served the certificate of node node-b");
    // node-b never got the spec.
    await expect(agents.startDomain({ name: "node-b", address: addressOf("node-b") }, vmId)).rejects.toMatchObject({ code: status.NOT_FOUND });
  });
});
