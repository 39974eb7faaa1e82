import { randomUUID } from "node:crypto";
import { Server, ServerCredentials, type ServiceError, credentials, status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import {
  AgentServiceClient,
  DomainState,
  type HeartbeatRequest,
  NodeRegistryServiceService,
  type NodeRegistryServiceServer,
  type RegisterNodeRequest,
} from "@drover/proto";
import { type RunningAgent, startAgent } from "./agent.js";
import { buildDomainXml } from "./domain-xml.js";
import { testHostUri } from "./test-host.js";
import { Registration } from "./registration.js";

const FAKE_CLUSTER_ID = "5d0c3f0e-8a41-4c1e-9b7a-2f64c8d1e901";

/**
 * A minimal, real NodeRegistryService peer that records what it receives. It has no
 * StreamHeartbeats, as an older scheduler: grpc-js answers it UNIMPLEMENTED, and the agent
 * beats with Heartbeat calls.
 */
class FakeScheduler {
  clusterId = FAKE_CLUSTER_ID;
  readonly registrations: RegisterNodeRequest[] = [];
  readonly heartbeats: HeartbeatRequest[] = [];
  known = new Set<string>();
  /** How long a heartbeat's answer takes (the beat counts as received at once). */
  answerDelayMs = 0;
  private server: Server | undefined;

  async start(port = 0): Promise<number> {
    const server = new Server();
    server.addService(NodeRegistryServiceService, {
      registerNode: (call, cb) => {
        this.registrations.push(call.request);
        this.known.add(call.request.name);
        cb(null, { node: undefined, heartbeatIntervalSeconds: 0, clusterId: this.clusterId, revokedSerials: [] });
      },
      heartbeat: (call, cb) => {
        if (!this.known.has(call.request.name)) {
          cb({ code: status.NOT_FOUND, details: `node ${call.request.name} is not registered` });
          return;
        }
        this.heartbeats.push(call.request);
        setTimeout(() => cb(null, { state: 1, destroyVmIds: [], revokedSerials: [] }), this.answerDelayMs);
      },
      // These agents run insecure: they never join or renew.
      joinNode: (_call, cb) => cb({ code: status.UNIMPLEMENTED, details: "not in this fake" }),
      renewCertificate: (_call, cb) => cb({ code: status.UNIMPLEMENTED, details: "not in this fake" }),
    } satisfies Pick<NodeRegistryServiceServer, "registerNode" | "heartbeat" | "joinNode" | "renewCertificate">);
    this.server = server;
    return new Promise((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${port}`, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
  }

  stop(): void {
    this.server?.forceShutdown();
    this.server = undefined;
  }
}

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("registration and heartbeats", () => {
  const cleanups: Array<() => unknown> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function agentFor(port: number, over: { nodeName: string; labels?: Record<string, string> }, domains: string[] = []): Promise<RunningAgent> {
    const agent = await startAgent(
      {
        insecure: true,
        libvirtUri: testHostUri({ vcpus: 8, memoryMib: 16384, domains }),
        listen: "127.0.0.1:0",
        schedulerAddress: `127.0.0.1:${port}`,
        heartbeatIntervalMs: 50,
        labels: {},
        ...over,
      },
      { log: () => {} },
    );
    cleanups.push(() => agent.stop());
    return agent;
  }

  it("registers with its size, address and labels, then heartbeats domain states", async () => {
    const sched = new FakeScheduler();
    const port = await sched.start();
    cleanups.push(() => sched.stop());
    const agent = await agentFor(port, { nodeName: "reg-1", labels: { zone: "a" } });
    await agent.registered();

    expect(sched.registrations[0]).toEqual({
      name: "reg-1",
      address: agent.address,
      capacity: { vcpus: 8, memoryMib: 16384, diskGib: 1024 },
      // The agent adds the domain type it uses, so requests can ask for KVM hosts.
      labels: { zone: "a", "drover.io/domain-type": "test" },
    });
    expect(agent.address).toMatch(/^127\.0\.0\.1:\d+$/);

    const vmId = randomUUID();
    const client = new AgentServiceClient(agent.address, credentials.createInsecure());
    cleanups.push(() => client.close());
    await new Promise((resolve, reject) =>
      client.ensureDomain(
        { vmId, spec: { name: "hb", vcpus: 1, memoryMib: 64, diskGib: 0, image: "", userData: "", network: "", labels: {}, kernel: "", initrd: "", cmdline: "", restartPolicy: "" } },
        (e: ServiceError | null, r: unknown) => (e ? reject(e) : resolve(r)),
      ),
    );
    const hb = await until("a heartbeat with the domain", () =>
      sched.heartbeats.find((h) => h.domains.some((d) => d.vmId === vmId)),
    );
    expect(hb.name).toBe("reg-1");
    expect(hb.domains).toEqual([
      { vmId, name: `hb-${vmId}`, state: DomainState.DOMAIN_STATE_RUNNING, reason: "", interfaces: [], reportInterfaces: false, generation: expect.any(Number) },
    ]);
    // Boot id (boot time first, so later boots sort after) and a seq that counts up.
    expect(hb.bootId).toMatch(/^[0-9a-f]{12}-[0-9a-f-]{36}$/);
    expect(hb.seq).toBeGreaterThan(0);
    expect(hb.libvirtUnavailable).toBe("");
  });

  it("heartbeats a domain an older agent defined and named by the id's first 8 hex digits", async () => {
    const sched = new FakeScheduler();
    const port = await sched.start();
    cleanups.push(() => sched.stop());
    const vmId = randomUUID();
    const spec = { name: "old", vcpus: 1, memoryMib: 64, diskGib: 0, image: "", userData: "", network: "", labels: {}, kernel: "", initrd: "", cmdline: "", restartPolicy: "" };
    const xml = buildDomainXml({ vmId, clusterId: FAKE_CLUSTER_ID }, spec, "test").replace(/<name>[^<]*<\/name>/, `<name>old-${vmId.slice(0, 8)}</name>`);
    await agentFor(port, { nodeName: "reg-old" }, [xml]);
    const hb = await until("a heartbeat with the old domain", () => sched.heartbeats.find((h) => h.domains.some((d) => d.vmId === vmId)));
    expect(hb.domains).toEqual([
      { vmId, name: `old-${vmId.slice(0, 8)}`, state: DomainState.DOMAIN_STATE_RUNNING, reason: "", interfaces: [], reportInterfaces: false, generation: expect.any(Number) },
    ]);
  });

  it("beats with Heartbeat calls to a scheduler that lacks StreamHeartbeats (an older one)", async () => {
    const sched = new FakeScheduler();
    const port = await sched.start();
    cleanups.push(() => sched.stop());
    const logs: string[] = [];
    const reg = new Registration({
      schedulerAddress: `127.0.0.1:${port}`,
      nodeName: "old-1",
      registerRequest: async () => ({ name: "old-1", address: "127.0.0.1:1", capacity: { vcpus: 1, memoryMib: 64, diskGib: 1 }, labels: {} }),
      domains: async () => [],
      heartbeatIntervalMs: 50,
      log: (m) => logs.push(m),
    });
    cleanups.push(() => reg.stop());
    await reg.start();
    await until("five Heartbeat calls", () => sched.heartbeats.length >= 5);
    expect(logs).toContain("the scheduler lacks StreamHeartbeats; heartbeating with Heartbeat calls");
    expect(reg.streaming).toBe(false);
    // Their seqs go up: the agent's order holds whichever way the beats go.
    const seqs = sched.heartbeats.map((h) => h.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it("registers again when a heartbeat gets NOT_FOUND", async () => {
    const sched = new FakeScheduler();
    const port = await sched.start();
    cleanups.push(() => sched.stop());
    const agent = await agentFor(port, { nodeName: "reg-2" });
    await agent.registered();
    await until("a heartbeat", () => sched.heartbeats.length > 0);

    sched.known.clear(); // the scheduler forgets the node
    await until("a second registration", () => sched.registrations.length >= 2);
    const before = sched.heartbeats.length;
    await until("heartbeats after re-registering", () => sched.heartbeats.length > before);
  });

  it("survives the scheduler being down at start", async () => {
    // Reserve a port, then free it so nothing listens there yet.
    const probe = new FakeScheduler();
    const port = await probe.start();
    probe.stop();

    const agent = await agentFor(port, { nodeName: "reg-3" });
    await new Promise((r) => setTimeout(r, 500)); // a few failed attempts

    const sched = new FakeScheduler();
    await sched.start(port);
    cleanups.push(() => sched.stop());
    await agent.registered();
    await until("a heartbeat", () => sched.heartbeats.length > 0);

    // And an outage after registering doesn't kill it either.
    sched.stop();
    await new Promise((r) => setTimeout(r, 300));
    const again = new FakeScheduler();
    again.known.add("reg-3");
    await again.start(port);
    cleanups.push(() => again.stop());
    await until("heartbeats to the restarted scheduler", () => again.heartbeats.length > 0);
  });

  it("pauses and resumes heartbeats", async () => {
    const sched = new FakeScheduler();
    const port = await sched.start();
    cleanups.push(() => sched.stop());
    const agent = await agentFor(port, { nodeName: "reg-4" });
    await agent.registered();
    await until("a heartbeat", () => sched.heartbeats.length > 0);

    agent.pauseHeartbeats();
    await new Promise((r) => setTimeout(r, 100)); // let an in-flight one land
    const paused = sched.heartbeats.length;
    await new Promise((r) => setTimeout(r, 300));
    expect(sched.heartbeats.length).toBe(paused);

    agent.resumeHeartbeats();
    await until("heartbeats after resuming", () => sched.heartbeats.length > paused, 2000);
  });

  it("beats on its own cadence while the scheduler is slow to answer", async () => {
    const sched = new FakeScheduler();
    // Each answer takes 6 intervals: an agent that waits for it before the next beat sends one per 350 ms.
    sched.answerDelayMs = 300;
    const port = await sched.start();
    cleanups.push(() => sched.stop());
    const agent = await agentFor(port, { nodeName: "reg-6" });
    await agent.registered();
    await until("a heartbeat", () => sched.heartbeats.length > 0);
    const first = sched.heartbeats.length;
    await new Promise((r) => setTimeout(r, 1000));
    // ~20 at 50 ms; a loaded machine may delay timers, but not to one per answer (~3).
    expect(sched.heartbeats.length - first).toBeGreaterThanOrEqual(8);
    // Each carries its own seq, so the scheduler can tell the newest.
    const seqs = sched.heartbeats.map((h) => h.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it("stop() ends everything and is idempotent", async () => {
    const sched = new FakeScheduler();
    const port = await sched.start();
    cleanups.push(() => sched.stop());
    const agent = await startAgent(
      { insecure: true, nodeName: "reg-5", libvirtUri: testHostUri(), listen: "127.0.0.1:0", schedulerAddress: `127.0.0.1:${port}`, heartbeatIntervalMs: 50 },
      { log: () => {} },
    );
    await agent.registered();
    await Promise.all([agent.stop(), agent.stop()]);
    const n = sched.heartbeats.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(sched.heartbeats.length).toBe(n);
  });

  it("refuses to join a scheduler of another cluster, and keeps retrying with its own", async () => {
    const sched = new FakeScheduler();
    sched.clusterId = "9a3e1b44-77c2-4f0e-8d6b-1c2d3e4f5a6b";
    const port = await sched.start();
    cleanups.push(() => sched.stop());
    const log: string[] = [];
    const agent = await startAgent(
      { insecure: true, nodeName: "reg-6", libvirtUri: testHostUri(), listen: "127.0.0.1:0", schedulerAddress: `127.0.0.1:${port}`, heartbeatIntervalMs: 50, clusterId: FAKE_CLUSTER_ID },
      { log: (m) => log.push(m) },
    );
    cleanups.push(() => agent.stop());
    await until("a second RegisterNode", () => sched.registrations.length >= 2, 5000);
    expect(sched.heartbeats).toHaveLength(0); // never registered, so never beats
    expect(log.join("\n")).toMatch(/belongs to cluster 5d0c3f0e-8a41-4c1e-9b7a-2f64c8d1e901 but the scheduler serves cluster 9a3e1b44/);
  });
});
