import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { WireType, type BinaryWriter } from "@bufbuild/protobuf/wire";
import { NodeRegistryServiceClient, NodeServiceClient, type CreateVmsRequest, type NodeState, type RegisterNodeRequest, type VmSpec, type VmState } from "@drover/proto";
import { protoBytes, rawStream, rawUnary } from "../support/raw-calls.js";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { policy, rejects, vmSpec } from "../support/requests.js";

/** Promise form of a generated unary method, for services the test clients do not wrap. */
const call = <Req>(method: (req: Req, cb: (e: ServiceError | null, r: unknown) => void) => unknown, req: Req) =>
  new Promise<unknown>((resolve, reject) => method(req, (e, r) => (e ? reject(e) : resolve(r))));

const good: VmSpec = vmSpec("ok", 1, 512);
const withSpec = (over: Partial<VmSpec>, req: Partial<CreateVmsRequest> = {}) => ({ template: { ...good, ...over }, count: 1, ...req });

// Each bad request must fail with INVALID_ARGUMENT naming the field, and create nothing. The full
// table of rules is packages/scheduler/src/api/validation.test.ts; these rows check that its
// messages reach a client as statuses, one per part of the request.
const BAD: [string, Partial<CreateVmsRequest>, RegExp][] = [
  ["no template", { count: 1 }, /^template: is required/],
  ["zero vcpus", withSpec({ vcpus: 0 }), /^template\.vcpus: must be a whole number from 1 to 1024, got 0/],
  ["min_count above count", withSpec({}, { count: 2, minCount: 3 }), /^min_count: must not exceed count \(2\), got 3/],
  ["bad constraint", withSpec({}, { policy: policy({ constraints: ["zone=="] }) }), /^policy\.constraints\[0\]: invalid label expression/],
  ["user data of 65 KiB (Nova's limit is 64)", withSpec({ userData: "x".repeat(65 * 1024) }), /^template\.user_data: must be at most 65536 bytes/],
  ["a name over 63 characters", withSpec({ name: "a".repeat(64) }), /^template\.name: must be at most 63 characters/],
  ["an idempotency key over 128 characters", withSpec({}, { idempotencyKey: "k".repeat(129) }), /^idempotency_key: must be at most 128 characters/],
  ["affinity and anti-affinity on one group", withSpec({}, { policy: policy({ antiAffinityGroup: "g", affinityGroup: "g" }) }), /^policy\.affinity_group: cannot also be/],
];

describe("bad input gets a clear error and creates nothing", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster([
      { name: "h1", vcpus: 2, memoryMib: 4096 },
      { name: "h2", vcpus: 2, memoryMib: 4096 },
    ]);
  });
  afterAll(() => cluster?.stop());

  it.each(BAD)("%s", async (_, req, message) => {
    const err = await rejects(cluster.api.createVms(req));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(message);
  });

  // The default 4 MiB message limit refuses the request before it is parsed (it was 64 MiB).
  it("refuses a 5 MiB request with RESOURCE_EXHAUSTED, and creates nothing", async () => {
    const err = await rejects(cluster.api.createVms(withSpec({ userData: "x".repeat(5 * 1024 * 1024) })));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/larger than max/);
    expect((await cluster.api.listVms({})).vms).toHaveLength(0);
  });

  it("reports per-reason counts when nothing fits", async () => {
    await cluster.api.cordonNode("h2");
    const err = await rejects(cluster.api.createVms(withSpec({ memoryMib: 8192 })));
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(err.details).toBe(
      "can place 0 of 1 VMs, min_count is 1: 1 node: cordoned; 1 node: insufficient memory (need 8192 MiB, largest free among them 4096 MiB)",
    );
  });

  it("answers NOT_FOUND for unknown nodes and VMs", async () => {
    for (const call of [
      () => cluster.api.getNode("nope"),
      () => cluster.api.cordonNode("nope"),
      () => cluster.api.listVms({ node: "nope" }),
      () => cluster.api.getCapacity("nope"),
      () => cluster.api.getVm("0f8fad5b-d9cb-469f-a165-70867728950e"),
    ]) {
      const err = await rejects(call());
      expect(err.code).toBe(status.NOT_FOUND);
      expect(err.details).toMatch(/not found/);
    }
    const err = await rejects(cluster.api.getVm("not-a-uuid"));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^id: must be a UUID/);
  });

  // Raw bytes a foreign client can send: these failed in the generated decoder (INTERNAL) or were
  // silently changed (invalid UTF-8 became U+FFFD).
  const spec = (extra: (w: BinaryWriter) => void) =>
    protoBytes((w) => {
      w.tag(1, WireType.LengthDelimited).string("raw");
      w.tag(2, WireType.Varint).uint32(1);
      w.tag(3, WireType.Varint).uint64(512n);
      extra(w);
    });
  const createWith = (extra: (w: BinaryWriter) => void) => protoBytes((w) => w.tag(1, WireType.LengthDelimited).bytes(spec(extra)));
  it.each([
    ["memory_mib above 2^53", createWith((w) => w.tag(3, WireType.Varint).uint64(2n ** 53n + 1n)), /^template\.memory_mib: must be at most 9007199254740991/],
    ["disk_gib above 2^53", createWith((w) => w.tag(4, WireType.Varint).uint64(2n ** 62n)), /^template\.disk_gib: must be at most 9007199254740991/],
    ["user_data that is not UTF-8", createWith((w) => w.tag(6, WireType.LengthDelimited).bytes(Uint8Array.of(0x61, 0xc3))), /^template\.user_data: must be valid UTF-8/],
    ["a NUL in user_data", createWith((w) => w.tag(6, WireType.LengthDelimited).string("a\0b")), /^template\.user_data: must not contain NUL/],
  ])("refuses raw CreateVms bytes with %s, naming the field", async (_, bytes, message) => {
    const err = await rawUnary(cluster.scheduler.address, "/drover.v1.VmService/CreateVms", bytes);
    expect(err?.code).toBe(status.INVALID_ARGUMENT);
    expect(err?.details).toMatch(message);
  });

  it("refuses raw WatchEvents bytes with after_id above 2^53 or a NUL in subject_prefix", async () => {
    const path = "/drover.v1.VmService/WatchEvents";
    const big = await rawStream(cluster.scheduler.address, path, protoBytes((w) => w.tag(1, WireType.Varint).uint64(2n ** 63n)));
    expect(big?.code).toBe(status.INVALID_ARGUMENT);
    expect(big?.details).toMatch(/^after_id: must be at most 9007199254740991 in magnitude, got 9223372036854775808/);
    const nul = await rawStream(cluster.scheduler.address, path, protoBytes((w) => w.tag(3, WireType.LengthDelimited).string("drover.\0")));
    expect(nul?.code).toBe(status.INVALID_ARGUMENT);
    expect(nul?.details).toMatch(/^subject_prefix: must not contain NUL/);
  });

  it("refuses unknown enum values and forged page tokens in ListVms and ListNodes, naming the field", async () => {
    const vms = await rejects(cluster.api.listVms({ state: 99 as VmState }));
    expect([vms.code, vms.details]).toEqual([status.INVALID_ARGUMENT, "state: is not a VmState: 99"]);
    const nodeClient = new NodeServiceClient(cluster.scheduler.address, credentials.createInsecure());
    const nodes = await rejects(call(nodeClient.listNodes.bind(nodeClient) as never, { state: 42 as NodeState, pageSize: 0, pageToken: "" }));
    nodeClient.close();
    expect([nodes.code, nodes.details]).toEqual([status.INVALID_ARGUMENT, "state: is not a NodeState: 42"]);
    for (const at of ["-62167219200000000", "8639977881600000000", "0000-01-01T00:00:00.000Z"]) {
      const token = Buffer.from(JSON.stringify([at, "0f8fad5b-d9cb-469f-a165-70867728950e"])).toString("base64url");
      const err = await rejects(cluster.api.listVms({ pageToken: token }));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/^page_token: is not a next_page_token returned by ListVms/);
    }
  });

  it("refuses a label value with a newline or a tab", async () => {
    for (const v of ["a\nb", "a\tb"]) {
      const err = await rejects(cluster.api.createVms(withSpec({ labels: { role: v } })));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toBe('template.labels["role"]: value must not contain tabs or line breaks');
    }
  });

  it("refuses RegisterNode with port 99999 or 2^31 vCPUs, and registers nothing", async () => {
    const registry = new NodeRegistryServiceClient(cluster.scheduler.address, credentials.createInsecure());
    const register = (over: Partial<RegisterNodeRequest>) =>
      rejects(call(registry.registerNode.bind(registry) as never, { name: "bad", address: "127.0.0.1:7001", capacity: { vcpus: 4, memoryMib: 4096, diskGib: 10 }, labels: {}, ...over }));
    try {
      const port = await register({ address: "127.0.0.1:99999" });
      expect([port.code, port.details]).toEqual([status.INVALID_ARGUMENT, 'address: must be host:port with a port from 1 to 65535 (IPv6 in brackets), got "127.0.0.1:99999"']);
      const cpus = await register({ capacity: { vcpus: 2 ** 31, memoryMib: 4096, diskGib: 10 } });
      expect([cpus.code, cpus.details]).toEqual([status.INVALID_ARGUMENT, "capacity.vcpus: must be a whole number from 1 to 65536, got 2147483648"]);
      const label = await register({ labels: { zone: "a\tb" } });
      expect(label.details).toBe('labels["zone"]: value must not contain tabs or line breaks');
    } finally {
      registry.close();
    }
    expect((await cluster.api.listNodes()).map((n) => n.name).sort()).toEqual(["h1", "h2"]);
  });

  it("left no VM, claim or event behind", async () => {
    expect((await cluster.api.listVms()).vms).toEqual([]);
    const cap = await cluster.api.getCapacity();
    expect(cap.allocated).toEqual({ vcpus: 0, memoryMib: 0, diskGib: 0 });
    const [row] = await cluster.scheduler.sql<{ count: number }[]>`SELECT count(*)::int AS count FROM outbox WHERE subject LIKE 'drover.vm.%'`;
    expect(row?.count).toBe(0);
  });
});
