import { randomUUID } from "node:crypto";
import { type ServiceError, credentials, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentServiceClient, DomainState, type VmSpec } from "@drover/proto";
import { type RunningAgent, startAgent } from "./agent.js";
import { testHostUri } from "./test-host.js";

// Promisified unary call on the generated client.
function rpc<Req, Res>(client: AgentServiceClient, method: keyof AgentServiceClient, req: Req): Promise<Res> {
  const fn = client[method] as unknown as (r: Req, cb: (e: ServiceError | null, res: Res) => void) => void;
  return new Promise((resolve, reject) => fn.call(client, req, (e, res) => (e ? reject(e) : resolve(res))));
}

const CLUSTER_ID = "5d0c3f0e-8a41-4c1e-9b7a-2f64c8d1e901";
/** A VM id whose domain name a foreign domain on the host already has. */
const SQUATTED = randomUUID();
const SQUATTER = `<domain type='test'><name>twin-${SQUATTED}</name><uuid>${randomUUID()}</uuid><memory>65536</memory><os><type>hvm</type></os></domain>`;

const spec = (name: string, over: Partial<VmSpec> = {}): VmSpec => ({
  name,
  vcpus: 1,
  memoryMib: 64,
  diskGib: 0,
  image: "",
  userData: "",
  network: "",
  kernel: "",
  initrd: "",
  cmdline: "",
  restartPolicy: "",
  labels: {},
  ...over,
});

async function code(p: Promise<unknown>): Promise<status | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return (e as ServiceError).code;
  }
}

describe("AgentService over gRPC on the libvirt test driver", () => {
  let agent: RunningAgent;
  let client: AgentServiceClient;
  const log: string[] = [];
  const call = <Res = any>(method: keyof AgentServiceClient, req: object) => rpc<object, Res>(client, method, req);

  beforeAll(async () => {
    agent = await startAgent(
      {
        insecure: true,
        nodeName: "svc-test",
        libvirtUri: testHostUri({ vcpus: 12, memoryMib: 48 * 1024, domains: [SQUATTER] }),
        listen: "127.0.0.1:0",
        // Nothing listens there: registration keeps failing quietly in the background.
        schedulerAddress: "127.0.0.1:1",
        stateDir: "/nonexistent/drover",
        clusterId: CLUSTER_ID,
      },
      { log: (m) => log.push(m) },
    );
    client = new AgentServiceClient(agent.address, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await agent?.stop();
  });

  it("reports the simulated host's size", async () => {
    const info = await call("getHostInfo", {});
    expect(info).toMatchObject({
      name: "svc-test",
      capacity: { vcpus: 12, memoryMib: 48 * 1024, diskGib: 1024 },
      domainType: "test",
      domainTypeReason: "libvirt test driver: a simulated host, no QEMU",
      libvirtProbeSeconds: 0,
      hypervisor: "Test",
    });
    expect(info.libvirtUri).toMatch(/^test:\/\//);
  });

  it("EnsureDomain is idempotent by VM id", async () => {
    const vmId = randomUUID();
    const first = await call("ensureDomain", { vmId, spec: spec("web") });
    const second = await call("ensureDomain", { vmId, spec: spec("web") });
    expect(first.domain).toEqual({
      vmId,
      name: `web-${vmId}`,
      state: DomainState.DOMAIN_STATE_RUNNING,
      reason: "",
      interfaces: [],
      reportInterfaces: false,
      generation: expect.any(Number),
    });
    expect(second.domain).toEqual({ ...first.domain, generation: expect.any(Number) });
    // Every call the agent serves is a change it made: later generation, so reports taken before it are stale.
    expect(second.domain.generation).toBeGreaterThan(first.domain.generation);
    const { domains } = await call("listDomains", {});
    expect(domains.filter((d: { vmId: string }) => d.vmId === vmId)).toHaveLength(1);
  });

  it("concurrent EnsureDomain calls for one VM define it once", async () => {
    const vmId = randomUUID();
    const results = await Promise.all(Array.from({ length: 8 }, () => call("ensureDomain", { vmId, spec: spec("burst") })));
    for (const r of results) expect(r.domain.state).toBe(DomainState.DOMAIN_STATE_RUNNING);
    const { domains } = await call("listDomains", {});
    expect(domains.filter((d: { vmId: string }) => d.vmId === vmId)).toHaveLength(1);
  });

  it("repeated names get distinct domains", async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    const ra = await call("ensureDomain", { vmId: a, spec: spec("same") });
    const rb = await call("ensureDomain", { vmId: b, spec: spec("same") });
    expect(ra.domain.name).not.toBe(rb.domain.name);
  });

  it("stops, starts, reboots and lists", async () => {
    const vmId = randomUUID();
    await call("ensureDomain", { vmId, spec: spec("cycle", { labels: { role: "db" } }) });

    const stopped = await call("stopDomain", { vmId, force: false });
    expect(stopped.domain.state).toBe(DomainState.DOMAIN_STATE_SHUTOFF);
    // Stopping a stopped domain is a no-op, forced or not.
    expect((await call("stopDomain", { vmId, force: true })).domain.state).toBe(DomainState.DOMAIN_STATE_SHUTOFF);

    let { domains } = await call("listDomains", {});
    expect(domains.find((d: { vmId: string }) => d.vmId === vmId)?.state).toBe(DomainState.DOMAIN_STATE_SHUTOFF);

    expect((await call("startDomain", { vmId })).domain.state).toBe(DomainState.DOMAIN_STATE_RUNNING);
    expect((await call("startDomain", { vmId })).domain.state).toBe(DomainState.DOMAIN_STATE_RUNNING);
    expect((await call("rebootDomain", { vmId })).domain.state).toBe(DomainState.DOMAIN_STATE_RUNNING);

    expect((await call("stopDomain", { vmId, force: true })).domain.state).toBe(DomainState.DOMAIN_STATE_SHUTOFF);
    // EnsureDomain on a stopped VM starts it again.
    const ensured = await call("ensureDomain", { vmId, spec: spec("cycle") });
    expect(ensured.domain.state).toBe(DomainState.DOMAIN_STATE_RUNNING);

    ({ domains } = await call("listDomains", {}));
    expect(domains.find((d: { vmId: string }) => d.vmId === vmId)).toEqual({
      vmId,
      name: `cycle-${vmId}`,
      state: DomainState.DOMAIN_STATE_RUNNING,
      reason: "",
      interfaces: [],
      reportInterfaces: false,
      // ListDomains reads libvirt now and reports the generation of the state it found: unchanged
      // since EnsureDomain, EnsureDomain's.
      generation: ensured.domain.generation,
    });
  });

  it("DestroyDomain removes the domain and succeeds when it is already gone", async () => {
    const vmId = randomUUID();
    await call("ensureDomain", { vmId, spec: spec("gone") });
    await call("destroyDomain", { vmId });
    await call("destroyDomain", { vmId });
    const { domains } = await call("listDomains", {});
    expect(domains.some((d: { vmId: string }) => d.vmId === vmId)).toBe(false);
    expect(await code(call("startDomain", { vmId }))).toBe(status.NOT_FOUND);
  });

  it("maps errors to gRPC statuses", async () => {
    const missing = randomUUID();
    expect(await code(call("ensureDomain", { vmId: "not-a-uuid", spec: spec("x") }))).toBe(status.INVALID_ARGUMENT);
    expect(await code(call("destroyDomain", { vmId: "" }))).toBe(status.INVALID_ARGUMENT);
    expect(await code(call("ensureDomain", { vmId: randomUUID() }))).toBe(status.INVALID_ARGUMENT);
    expect(await code(call("ensureDomain", { vmId: randomUUID(), spec: spec("x", { vcpus: 0 }) }))).toBe(status.INVALID_ARGUMENT);
    expect(await code(call("ensureDomain", { vmId: randomUUID(), spec: spec("bad\u0001") }))).toBe(status.INVALID_ARGUMENT);
    expect(await code(call("startDomain", { vmId: missing }))).toBe(status.NOT_FOUND);
    expect(await code(call("stopDomain", { vmId: missing, force: true }))).toBe(status.NOT_FOUND);
    expect(await code(call("rebootDomain", { vmId: missing }))).toBe(status.NOT_FOUND);
    expect(await code(call("destroyDomain", { vmId: missing }))).toBe("ok");
  });

  it("answers a libvirt failure with INTERNAL and an error id, its text only in the agent log", async () => {
    // Another tool's domain already has the name this VM's domain would get: libvirt refuses the define.
    const err = (await call("ensureDomain", { vmId: SQUATTED, spec: spec("twin") }).catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(status.INTERNAL);
    const id = /^internal error, id ([0-9a-f]{12}); the agent log has the details$/.exec(err.details)?.[1];
    expect(id, err.details).toBeDefined();
    const line = log.find((l) => l.includes(`internal error, id ${id}`));
    expect(line).toMatch(/EnsureDomain/);
    expect(line).toMatch(/already exists/);
  });

  // DROVER_AGENT_MAX_MESSAGE_MIB defaults to 4: a bigger EnsureDomain is refused before it is parsed.
  it("refuses a 5 MiB request with RESOURCE_EXHAUSTED and defines nothing", async () => {
    const vmId = randomUUID();
    expect(await code(call("ensureDomain", { vmId, spec: spec("huge", { userData: "x".repeat(5 * 1024 * 1024) }) }))).toBe(status.RESOURCE_EXHAUSTED);
    const { domains } = await call("listDomains", {});
    expect(domains.map((d: { vmId: string }) => d.vmId)).not.toContain(vmId);
  });

  it("says what to fix for a bad vm id", async () => {
    const err = (await call("startDomain", { vmId: "vm-1" }).catch((e: unknown) => e)) as ServiceError;
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/vm_id must be a UUID/);
  });
});
