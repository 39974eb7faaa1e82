// Domain names on one host: VMs of one name whose ids share their first hex digits (time-ordered
// v7 ids made within ~65 s do) get domains of their own, and a domain an older agent named by the
// id's first 8 hex digits is still this agent's to find, report, start, stop and destroy.
import { randomUUID } from "node:crypto";
import { type ServiceError, credentials, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentServiceClient, DomainState, type DomainStatus, type VmSpec } from "@drover/proto";
import { type RunningAgent, startAgent } from "./agent.js";
import { buildDomainXml } from "./domain-xml.js";
import { testHostUri } from "./test-host.js";

const CLUSTER_ID = "5d0c3f0e-8a41-4c1e-9b7a-2f64c8d1e901";
const spec = (name: string): VmSpec => ({ name, vcpus: 1, memoryMib: 64, diskGib: 0, image: "", userData: "", network: "", labels: {}, kernel: "", initrd: "", cmdline: "", restartPolicy: "" });

/** Ids as a v7 generator makes them within one minute: the same 48-bit time, random after it. */
const sameMinute = (time: string) => `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomUUID().slice(15)}`;
const TIME = Date.now().toString(16).padStart(12, "0");

// The domain an agent before this change defined: its XML exactly, with the name it gave it then.
const LEGACY = sameMinute(TIME);
const LEGACY_NAME = `web-${LEGACY.slice(0, 8)}`;
const legacyXml = buildDomainXml({ vmId: LEGACY, clusterId: CLUSTER_ID }, spec("web"), "test").replace(/<name>[^<]*<\/name>/, `<name>${LEGACY_NAME}</name>`);

function rpc<Res>(client: AgentServiceClient, method: keyof AgentServiceClient, req: object): Promise<Res> {
  const fn = client[method] as unknown as (r: object, cb: (e: ServiceError | null, res: Res) => void) => void;
  return new Promise((resolve, reject) => fn.call(client, req, (e, res) => (e ? reject(e) : resolve(res))));
}

describe("domain names on one host", () => {
  let agent: RunningAgent;
  let client: AgentServiceClient;
  const call = <Res = { domain: DomainStatus }>(method: keyof AgentServiceClient, req: object) => rpc<Res>(client, method, req);
  const listed = async (vmId: string) => (await call<{ domains: DomainStatus[] }>("listDomains", {})).domains.find((d) => d.vmId === vmId);

  beforeAll(async () => {
    agent = await startAgent(
      {
        insecure: true,
        nodeName: "names",
        // The host file's domains exist before the agent starts, as after an agent upgraded in place.
        libvirtUri: testHostUri({ vcpus: 8, memoryMib: 8192, domains: [legacyXml] }),
        listen: "127.0.0.1:0",
        schedulerAddress: "127.0.0.1:1",
        stateDir: "/nonexistent/drover",
        clusterId: CLUSTER_ID,
      },
      { log: () => {} },
    );
    client = new AgentServiceClient(agent.address, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await agent?.stop();
  });

  it("runs two VMs of one name whose ids share their first 12 hex digits", async () => {
    const [a, b] = [sameMinute(TIME), sameMinute(TIME)];
    const ra = await call("ensureDomain", { vmId: a, spec: spec("twin") });
    const rb = await call("ensureDomain", { vmId: b, spec: spec("twin") });
    expect(ra.domain.state).toBe(DomainState.DOMAIN_STATE_RUNNING);
    expect(rb.domain.state).toBe(DomainState.DOMAIN_STATE_RUNNING);
    expect(ra.domain.name).not.toBe(rb.domain.name);
    expect((await listed(a))?.state).toBe(DomainState.DOMAIN_STATE_RUNNING);
    expect((await listed(b))?.state).toBe(DomainState.DOMAIN_STATE_RUNNING);
  });

  it("still manages a domain an older agent named by the id's first 8 hex digits", async () => {
    expect(await listed(LEGACY)).toMatchObject({ name: LEGACY_NAME, state: DomainState.DOMAIN_STATE_RUNNING });
    // EnsureDomain finds it by id and leaves it as it is, name included.
    expect((await call("ensureDomain", { vmId: LEGACY, spec: spec("web") })).domain).toMatchObject({ vmId: LEGACY, name: LEGACY_NAME, state: DomainState.DOMAIN_STATE_RUNNING });
    // A new VM of the same name whose id starts the same way runs beside it.
    const next = sameMinute(TIME);
    expect(next.slice(0, 8)).toBe(LEGACY.slice(0, 8));
    expect((await call("ensureDomain", { vmId: next, spec: spec("web") })).domain.state).toBe(DomainState.DOMAIN_STATE_RUNNING);

    expect((await call("stopDomain", { vmId: LEGACY, force: true })).domain.state).toBe(DomainState.DOMAIN_STATE_SHUTOFF);
    expect((await call("startDomain", { vmId: LEGACY })).domain.state).toBe(DomainState.DOMAIN_STATE_RUNNING);
    expect((await call("rebootDomain", { vmId: LEGACY })).domain.state).toBe(DomainState.DOMAIN_STATE_RUNNING);

    await call("destroyDomain", { vmId: LEGACY });
    expect(await listed(LEGACY)).toBeUndefined();
    expect(await listed(next)).toMatchObject({ state: DomainState.DOMAIN_STATE_RUNNING });
    const gone = await call("startDomain", { vmId: LEGACY }).catch((e: ServiceError) => e);
    expect((gone as ServiceError).code).toBe(status.NOT_FOUND);
  });
});
