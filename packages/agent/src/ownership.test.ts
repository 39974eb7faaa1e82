// Domains Drover did not create for this cluster are invisible to the AgentService: the test
// driver's host file defines them before the agent connects, as another tool on the host would.
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Server, ServerCredentials, type ServiceError, credentials, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentServiceClient, AgentServiceService, DomainState, type VmSpec } from "@drover/proto";
import { startAgent } from "./agent.js";
import { createAgentService } from "./agent-service.js";
import { DROVER_XMLNS } from "./domain-xml.js";
import { LibvirtHost } from "./libvirt.js";
import { droverMark, isOurs } from "./ownership.js";
import { testHostUri } from "./test-host.js";

const CLUSTER = "5d0c3f0e-8a41-4c1e-9b7a-2f64c8d1e901";
const OTHER_CLUSTER = "9a3e1b44-77c2-4f0e-8d6b-1c2d3e4f5a6b";

function foreign(name: string, uuid: string, extra = ""): string {
  return `<domain type='test'><name>${name}</name><uuid>${uuid}</uuid>${extra}<memory>65536</memory><os><type>hvm</type></os></domain>`;
}
const mark = (cluster: string, vmId: string) =>
  `<metadata><drover:vm xmlns:drover="${DROVER_XMLNS}"><drover:cluster>${cluster}</drover:cluster><drover:id>${vmId}</drover:id></drover:vm></metadata>`;

// Each is a domain Drover must leave alone, and why.
const FOREIGN = {
  plain: randomUUID(),
  // Today's bug: a description that merely quotes the namespace made a domain Drover's.
  description: randomUUID(),
  otherCluster: randomUUID(),
  wrongVmId: randomUUID(),
  // An older agent's mark, without a cluster.
  noCluster: randomUUID(),
};
const HOST_DOMAINS = [
  foreign("plain", FOREIGN.plain),
  foreign("described", FOREIGN.description, `<description>&lt;drover:vm xmlns:drover="${DROVER_XMLNS}"&gt;&lt;drover:cluster&gt;${CLUSTER}&lt;/drover:cluster&gt;&lt;drover:id&gt;${FOREIGN.description}&lt;/drover:id&gt;</description>`),
  foreign("other-cluster", FOREIGN.otherCluster, mark(OTHER_CLUSTER, FOREIGN.otherCluster)),
  foreign("wrong-id", FOREIGN.wrongVmId, mark(CLUSTER, randomUUID())),
  foreign("no-cluster", FOREIGN.noCluster, `<metadata><drover:vm xmlns:drover="${DROVER_XMLNS}"><drover:id>${FOREIGN.noCluster}</drover:id></drover:vm></metadata>`),
];

const spec = (name: string): VmSpec => ({ name, vcpus: 1, memoryMib: 64, diskGib: 0, image: "", userData: "", network: "", labels: {}, kernel: "", initrd: "", cmdline: "", restartPolicy: "" });

function rpc<Res>(client: AgentServiceClient, method: keyof AgentServiceClient, req: object): Promise<Res> {
  const fn = client[method] as unknown as (r: object, cb: (e: ServiceError | null, res: Res) => void) => void;
  return new Promise((resolve, reject) => fn.call(client, req, (e, res) => (e ? reject(e) : resolve(res))));
}
async function code(p: Promise<unknown>): Promise<status | "ok"> {
  try {
    await p;
    return "ok";
  } catch (e) {
    return (e as ServiceError).code;
  }
}

describe("droverMark", () => {
  it("reads the mark libvirt gives back, and nothing from text", async () => {
    const lv = await LibvirtHost.connect(testHostUri({ vcpus: 2, memoryMib: 2048, domains: HOST_DOMAINS }));
    try {
      const xmlOf = async (uuid: string) => lv.xml((await lv.lookup(uuid))!);
      expect(droverMark(await xmlOf(FOREIGN.plain))).toBeUndefined();
      expect(droverMark(await xmlOf(FOREIGN.description))).toBeUndefined();
      expect(droverMark(await xmlOf(FOREIGN.noCluster))).toBeUndefined();
      expect(droverMark(await xmlOf(FOREIGN.otherCluster))).toEqual({ clusterId: OTHER_CLUSTER, vmId: FOREIGN.otherCluster });
      expect(isOurs(FOREIGN.otherCluster, await xmlOf(FOREIGN.otherCluster), CLUSTER)).toBe(false);
      expect(isOurs(FOREIGN.otherCluster, await xmlOf(FOREIGN.otherCluster), OTHER_CLUSTER)).toBe(true);
      expect(isOurs(FOREIGN.wrongVmId, await xmlOf(FOREIGN.wrongVmId), CLUSTER)).toBe(false);
      expect(isOurs(FOREIGN.otherCluster, await xmlOf(FOREIGN.otherCluster), undefined)).toBe(false);
    } finally {
      await lv.close();
    }
  });
});

describe("an AgentService among domains it did not create", () => {
  let server: Server;
  let client: AgentServiceClient;
  let libvirt: LibvirtHost;
  let stateDir: string;
  const call = <Res = any>(method: keyof AgentServiceClient, req: object) => rpc<Res>(client, method, req);
  const stateOf = async (uuid: string) => libvirt.state((await libvirt.lookup(uuid))!);

  beforeAll(async () => {
    // The service gets the test's own connection: the test driver keeps domains per connection,
    // and this way the test sees exactly what the service did to them.
    libvirt = await LibvirtHost.connect(testHostUri({ vcpus: 4, memoryMib: 4096, domains: HOST_DOMAINS }));
    stateDir = mkdtempSync(join(tmpdir(), "drover-ownership-"));
    server = new Server();
    server.addService(
      AgentServiceService,
      createAgentService({
        libvirt,
        clusterId: () => CLUSTER,
        domainType: { type: "test", reason: "libvirt test driver" },
        stateDir,
        imageDir: "/nonexistent/images",
        hostInfo: async () => ({ name: "among-foreign", capacity: { vcpus: 4, memoryMib: 4096, diskGib: 10 }, libvirtProbeSeconds: 0 }),
        log: () => {},
      }),
    );
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    client = new AgentServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
    // The test driver starts the domains of its host file.
    for (const uuid of Object.values(FOREIGN)) expect(await stateOf(uuid)).toBe(DomainState.DOMAIN_STATE_RUNNING);
  });
  afterAll(async () => {
    client?.close();
    server?.forceShutdown();
    await libvirt?.close();
  });

  it("never lists them, but lists its own", async () => {
    const own = randomUUID();
    await call("ensureDomain", { vmId: own, spec: spec("own") });
    const { domains } = await call<{ domains: { vmId: string }[] }>("listDomains", {});
    expect(domains.map((d) => d.vmId)).toEqual([own]);
  });

  it.each(Object.entries(FOREIGN))("answers NOT_FOUND for every call on the %s domain, and leaves it running", async (_why, vmId) => {
    const before = await libvirt.xml((await libvirt.lookup(vmId))!);
    const taken = spec("taken");
    const err = await call("ensureDomain", { vmId, spec: taken }).catch((e: ServiceError) => e);
    expect((err as ServiceError).code).toBe(status.NOT_FOUND);
    expect((err as ServiceError).details).toMatch(/Drover did not create it/);
    expect(await code(call("stopDomain", { vmId, force: true }))).toBe(status.NOT_FOUND);
    expect(await code(call("stopDomain", { vmId, force: false }))).toBe(status.NOT_FOUND);
    expect(await code(call("rebootDomain", { vmId }))).toBe(status.NOT_FOUND);
    expect(await code(call("startDomain", { vmId }))).toBe(status.NOT_FOUND);
    expect(await code(call("destroyDomain", { vmId }))).toBe(status.NOT_FOUND);
    expect(await stateOf(vmId)).toBe(DomainState.DOMAIN_STATE_RUNNING);
    expect(await libvirt.xml((await libvirt.lookup(vmId))!)).toBe(before);
  });

  it("answers NOT_FOUND for their console log", async () => {
    const stream = client.readConsoleLog({ vmId: FOREIGN.description, follow: false });
    const got = await new Promise<status>((resolve) => {
      stream.on("data", () => {});
      stream.on("error", (e: ServiceError) => resolve(e.code));
      stream.on("end", () => resolve(status.OK));
    });
    expect(got).toBe(status.NOT_FOUND);
  });
});

describe("an agent that has not registered yet", () => {
  it("lists nothing, and creates nothing it could not mark", async () => {
    const agent = await startAgent(
      { insecure: true, nodeName: "unregistered", libvirtUri: testHostUri({ vcpus: 2, memoryMib: 2048, domains: HOST_DOMAINS }), listen: "127.0.0.1:0", schedulerAddress: "127.0.0.1:1" },
      { log: () => {} },
    );
    const client = new AgentServiceClient(agent.address, credentials.createInsecure());
    try {
      const { domains } = await rpc<{ domains: unknown[] }>(client, "listDomains", {});
      expect(domains).toEqual([]);
      expect(await code(rpc(client, "ensureDomain", { vmId: randomUUID(), spec: spec("early") }))).toBe(status.FAILED_PRECONDITION);
    } finally {
      client.close();
      await agent.stop();
    }
  });
});
