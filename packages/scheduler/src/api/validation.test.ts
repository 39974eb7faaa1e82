import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { CreateVmsRequest, NodeState, PlacementPolicy, PlacementStrategy, VmState, type VmSpec } from "@drover/proto";
import { toStatus } from "./grpc-status.js";
import { nodeStateName, vmStateName } from "./convert.js";
import {
  validateAddress,
  validateAllocationRatios,
  validateCreate,
  validateId,
  validateLabels,
  validateNodeCapacity,
  validateNodeName,
  validatePolicy,
  validateSubjectPrefix,
} from "./validation.js";

const good: Partial<VmSpec> = { name: "ok", vcpus: 1, memoryMib: 512 };
const withSpec = (over: Partial<VmSpec>, req: Partial<CreateVmsRequest> = {}): Partial<CreateVmsRequest> => ({
  template: { ...good, ...over } as VmSpec,
  count: 1,
  ...req,
});
const withPolicy = (p: Partial<PlacementPolicy>, req: Partial<CreateVmsRequest> = {}) => withSpec({}, { policy: PlacementPolicy.fromPartial(p), ...req });
const group = (name: string, count = 1, over: Partial<VmSpec> = {}) => ({ template: { ...good, name, ...over } as VmSpec, count });

/** The gRPC status `fn` fails with, as the client would see it. */
function statusOf(fn: () => unknown): { code: number | undefined; details: string | undefined } {
  try {
    fn();
  } catch (err) {
    const e = toStatus(err);
    return { code: e?.code, details: e?.details };
  }
  throw new Error("expected validation to fail");
}

// Each bad request fails with INVALID_ARGUMENT whose message names the field path and the rule.
const BAD_CREATES: [string, Partial<CreateVmsRequest>, RegExp][] = [
  ["no template", { count: 1 }, /^template: is required/],
  ["zero vcpus", withSpec({ vcpus: 0 }), /^template\.vcpus: must be a whole number from 1 to 1024, got 0/],
  ["huge vcpus", withSpec({ vcpus: 100_000 }), /^template\.vcpus: .* got 100000/],
  ["fractional vcpus", withSpec({ vcpus: 1.5 }), /^template\.vcpus: must be a whole number from 1 to 1024, got 1.5/],
  ["huge memory", withSpec({ memoryMib: 2 ** 40 }), /^template\.memory_mib: must be a whole number from 16 to 16777216/],
  ["zero memory", withSpec({ memoryMib: 0 }), /^template\.memory_mib: must be a whole number from 16/],
  ["huge disk", withSpec({ diskGib: 10 ** 12 }), /^template\.disk_gib: /],
  ["empty name", withSpec({ name: "" }), /^template\.name: is required/],
  ["overlong name", withSpec({ name: "a".repeat(64) }), /^template\.name: must be at most 63 characters/],
  ["name too long for the count suffix", withSpec({ name: "a".repeat(62) }, { count: 10 }), /^template\.name: must be at most 60 characters when count is 10/],
  ["XML metacharacters in name", withSpec({ name: "</name><devices>" }), /^template\.name: must be lowercase letters/],
  ["uppercase name", withSpec({ name: "Web" }), /^template\.name: /],
  ["name ending in '-'", withSpec({ name: "web-" }), /^template\.name: must be lowercase letters/],
  ["control characters in image", withSpec({ image: "img\u0000x", diskGib: 1 }), /^template\.image: must be the name of a catalog image/],
  ["an image path", withSpec({ image: "/etc/shadow", diskGib: 1 }), /^template\.image: must be the name of a catalog image .*not a path: got "\/etc\/shadow"/],
  ["an image path with ..", withSpec({ image: "../../etc/shadow", diskGib: 1 }), /^template\.image: .*not a path/],
  ["an image name over 63 characters", withSpec({ image: "a".repeat(64), diskGib: 1 }), /^template\.image: must be the name of a catalog image/],
  ["image without disk", withSpec({ image: "debian-12" }), /^template\.image: needs template\.disk_gib > 0/],
  ["a kernel path", withSpec({ kernel: "/etc/shadow" }), /^template\.kernel: must be a file name in the agents' image directory .*not a path: got "\/etc\/shadow"/],
  ["an initrd path", withSpec({ kernel: "vmlinuz", initrd: "../../etc/shadow" }), /^template\.initrd: .*not a path/],
  ["an initrd without a kernel", withSpec({ initrd: "initrd.img" }), /^template\.initrd: needs template\.kernel/],
  ["user data over 64 KiB", withSpec({ userData: "x".repeat(64 * 1024 + 1) }), /^template\.user_data: must be at most 65536 bytes/],
  ["bad network name", withSpec({ network: "<net>" }), /^template\.network: /],
  ["bad label key", withSpec({ labels: { "bad key": "x" } }), /^template\.labels\["bad key"\]: key must be/],
  ["control characters in a label value", withSpec({ labels: { k: "a\u0007" } }), /^template\.labels\["k"\]: must not contain control characters/],
  ["a newline in a label value", withSpec({ labels: { k: "a\nb" } }), /^template\.labels\["k"\]: value must not contain tabs or line breaks/],
  ["a tab in a label value", withSpec({ labels: { k: "a\tb" } }), /^template\.labels\["k"\]: value must not contain tabs or line breaks/],
  ["too many labels", withSpec({ labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, "v"])) }), /^template\.labels: at most 64 labels/],
  ["count over the limit", withSpec({}, { count: 10_001 }), /^count: must be a whole number from 1 to 10000/],
  ["negative count", withSpec({}, { count: -1 }), /^count: must be a whole number from 1 to 10000, got -1/],
  ["min_count above count", withSpec({}, { count: 2, minCount: 3 }), /^min_count: must not exceed count \(2\), got 3/],
  ["bad constraint", withPolicy({ constraints: ["zone=="] }), /^policy\.constraints\[0\]: invalid label expression/],
  ["bad preference", withPolicy({ preferences: ["zone=a", "("] }), /^policy\.preferences\[1\]: /],
  ["an overlong constraint", withPolicy({ constraints: [`zone in (${"a,".repeat(300)}b)`] }), /^policy\.constraints\[0\]: must be at most 512 characters, got \d+/],
  ["an overlong preference", withPolicy({ preferences: ["zone=a", "z".repeat(513)] }), /^policy\.preferences\[1\]: must be at most 512 characters/],
  ["an overlong label value", withSpec({ labels: { k: "v".repeat(257) } }), /^template\.labels\["k"\]: must be at most 256 characters/],
  ["an overlong group", withPolicy({ affinityGroup: "g".repeat(129) }), /^policy\.affinity_group: must be 1-128 characters/],
  ["too many constraints", withPolicy({ constraints: Array.from({ length: 65 }, () => "zone=a") }), /^policy\.constraints: at most 64/],
  ["unknown strategy", withPolicy({ strategy: 7 as PlacementStrategy }), /^policy\.strategy: must be SPREAD, PACK or unset/],
  ["bad group name", withPolicy({ antiAffinityGroup: "a b" }), /^policy\.anti_affinity_group: /],
  ["bad soft group name", withPolicy({ softAntiAffinityGroup: "-x" }), /^policy\.soft_anti_affinity_group: /],
  ["affinity and anti-affinity on one group", withPolicy({ antiAffinityGroup: "g", affinityGroup: "g" }), /^policy\.affinity_group: cannot also be/],
  ["overlong idempotency key", withSpec({}, { idempotencyKey: "k".repeat(129) }), /^idempotency_key: must be at most 128 characters/],
  ["idempotency key with dry_run", withSpec({}, { idempotencyKey: "k", dryRun: true }), /^idempotency_key: has no meaning with dry_run/],
  ["template and groups together", withSpec({}, { groups: [group("a")] }), /^template: leave template and count unset when groups is used/],
  ["count and groups together", { count: 2, groups: [group("a")] }, /^template: leave template and count unset/],
  ["too many groups", { groups: Array.from({ length: 101 }, (_, i) => group(`g${i}`)) }, /^groups: at most 100 groups per request/],
  ["bad field in the third group", { groups: [group("a"), group("b"), group("c", 1, { vcpus: 0 })] }, /^groups\[2\]\.template\.vcpus: /],
  ["a group without template", { groups: [group("a"), { count: 1 }] }, /^groups\[1\]\.template: is required/],
  ["a group count over the limit", { groups: [group("a", 10_001)] }, /^groups\[0\]\.count: must be a whole number from 1 to 10000/],
  ["two groups with one name", { groups: [group("a"), group("a")] }, /^groups\[1\]\.template\.name: "a" is used by another group/],
  ["groups over the VM limit together", { groups: [group("a", 6000), group("b", 6000)] }, /^groups: at most 10000 VMs per request, got 12000/],
  ["min_count above the groups' total", { groups: [group("a", 2), group("b", 1)], minCount: 4 }, /^min_count: must not exceed count \(3\), got 4/],
  // Static addresses (issue 12): the field path names what to fix.
  ...staticCases(),
];

function staticCases(): [string, Partial<CreateVmsRequest>, RegExp][] {
  const ip = (address: string, more: { gateway?: string; dns?: string[] } = {}) => ({ address, gateway: more.gateway ?? "", dns: more.dns ?? [] });
  const on = (s: ReturnType<typeof ip>, req: Partial<CreateVmsRequest> = {}, network = "drover-nat") => withSpec({ network, staticIpv4: s }, req);
  return [
    ["a static address without a prefix", on(ip("192.168.213.50")), /^template\.static_ipv4\.address: must be an IPv4 address with a prefix length/],
    ["a static address that is no IPv4", on(ip("192.168.213.300/24")), /^template\.static_ipv4\.address: /],
    ["a prefix of 33", on(ip("10.0.0.1/33")), /^template\.static_ipv4\.address: .*prefix length of 1-32/],
    ["the network address", on(ip("192.168.213.0/24")), /^template\.static_ipv4\.address: is the network's network address/],
    ["the broadcast address", on(ip("192.168.213.255/24")), /^template\.static_ipv4\.address: is the network's broadcast address/],
    ["a gateway outside the subnet", on(ip("192.168.213.50/24", { gateway: "10.0.0.1" })), /^template\.static_ipv4\.gateway: must be inside the address's subnet/],
    ["the gateway is the VM itself", on(ip("192.168.213.50/24", { gateway: "192.168.213.50" })), /^template\.static_ipv4\.gateway: must not be the VM's own address/],
    ["a bad gateway", on(ip("192.168.213.50/24", { gateway: "gw" })), /^template\.static_ipv4\.gateway: must be an IPv4 address/],
    ["a DNS server by name", on(ip("192.168.213.50/24", { dns: ["192.168.213.1", "dns.example"] })), /^template\.static_ipv4\.dns\[1\]: must be an IPv4 address/],
    ["four DNS servers", on(ip("192.168.213.50/24", { dns: ["1.1.1.1", "1.0.0.1", "9.9.9.9", "8.8.8.8"] })), /^template\.static_ipv4\.dns: at most 3/],
    ["one address for two VMs", on(ip("192.168.213.50/24"), { count: 2 }), /^template\.static_ipv4: is one VM's address: use it with count 1 \(got 2\)/],
    ["a static address without a network", on(ip("192.168.213.50/24"), {}, ""), /^template\.static_ipv4: needs template\.network/],
    ["a static address in a group of two", { groups: [group("a", 2, { network: "n", staticIpv4: ip("10.0.0.2/8") })] }, /^groups\[0\]\.template\.static_ipv4: is one VM's address/],
  ];
}

describe("validateCreate refuses bad requests, naming the field and the rule", () => {
  it.each(BAD_CREATES)("%s", (_, req, message) => {
    const got = statusOf(() => validateCreate(CreateVmsRequest.fromPartial(req), "spread"));
    expect(got.code).toBe(status.INVALID_ARGUMENT);
    expect(got.details).toMatch(message);
  });
});

describe("validateCreate fills the defaults of a good request", () => {
  it("count 0 means 1, min_count 0 means all, an unset strategy is the configured default", () => {
    const v = validateCreate(CreateVmsRequest.fromPartial({ template: good as VmSpec }), "pack");
    expect(v).toMatchObject({ total: 1, minCount: 1, idempotencyKey: "", dryRun: false });
    expect(v.groups).toEqual([{ spec: expect.objectContaining({ name: "ok" }), count: 1 }]);
    expect(v.policy).toMatchObject({ strategy: "pack", constraints: [], preferences: [], groups: [] });
  });

  it("groups add up, each keeps its own count and spec, and the policy's groups are listed for locking", () => {
    const v = validateCreate(
      CreateVmsRequest.fromPartial({
        groups: [group("web", 3), group("db", 0)],
        minCount: 2,
        policy: { strategy: PlacementStrategy.PLACEMENT_STRATEGY_SPREAD, antiAffinityGroup: "x", softAntiAffinityGroup: "y", constraints: ["zone=a"] },
      }),
      "pack",
    );
    expect(v.groups.map((g) => [g.spec.name, g.count])).toEqual([
      ["web", 3],
      ["db", 1],
    ]);
    expect(v.total).toBe(4);
    expect(v.minCount).toBe(2);
    expect(v.policy.strategy).toBe("spread");
    expect(v.policy.groups).toEqual(["x", "y"]);
    expect(v.policy.constraints).toHaveLength(1);
  });

  it("takes a good static address, and fills the cluster's default network where a spec names none", () => {
    const staticIpv4 = { address: "192.168.213.50/24", gateway: "192.168.213.1", dns: ["192.168.213.1"] };
    const v = validateCreate(CreateVmsRequest.fromPartial(withSpec({ staticIpv4 })), "spread", "drover-nat");
    expect(v.groups[0]!.spec).toMatchObject({ network: "drover-nat", staticIpv4 });
    expect(validateCreate(CreateVmsRequest.fromPartial(withSpec({ network: "other" })), "spread", "drover-nat").groups[0]!.spec.network).toBe("other");
    expect(validateCreate(CreateVmsRequest.fromPartial(withSpec({})), "spread").groups[0]!.spec.network).toBe("");
    // /31 and /32 have no network or broadcast address.
    expect(() => validateCreate(CreateVmsRequest.fromPartial(withSpec({ network: "n", staticIpv4: { address: "10.0.0.0/31", gateway: "", dns: [] } })), "spread")).not.toThrow();
  });

  it("accepts the largest values the limits allow", () => {
    const req = withSpec({ name: "a".repeat(57), vcpus: 1024, memoryMib: 16 * 1024 * 1024, diskGib: 1024 * 1024 }, { count: 10_000 });
    expect(validateCreate(CreateVmsRequest.fromPartial(req), "spread").total).toBe(10_000);
  });
});

describe("validatePolicy", () => {
  it("an absent policy is the default strategy and no rules", () => {
    expect(validatePolicy(undefined, "spread")).toMatchObject({ strategy: "spread", constraints: [], preferences: [], groups: [] });
  });
  it("PACK and SPREAD override the default", () => {
    expect(validatePolicy(PlacementPolicy.fromPartial({ strategy: PlacementStrategy.PLACEMENT_STRATEGY_PACK }), "spread").strategy).toBe("pack");
    expect(validatePolicy(PlacementPolicy.fromPartial({ strategy: PlacementStrategy.PLACEMENT_STRATEGY_SPREAD }), "pack").strategy).toBe("spread");
  });
});

describe("identifiers and node settings", () => {
  it.each([
    ["an empty node name", () => validateNodeName("name", ""), /^name: is required/],
    ["a node name with a space", () => validateNodeName("name", "a b"), /^name: must be 1-253 characters/],
    ["a node name over 253 characters", () => validateNodeName("node", "a".repeat(254)), /^node: must be 1-253 characters/],
    ["a VM id that is no UUID", () => validateId("id", "not-a-uuid"), /^id: must be a UUID like .*, got "not-a-uuid"/],
    ["a bad label key on a node", () => validateLabels("labels", { "": "x" }), /^labels\[""\]: key must be 1-63 characters/],
    ["a zero allocation ratio", () => validateAllocationRatios({ cpu_allocation_ratio: 0 }), /^cpu_allocation_ratio: must be above 0 and at most 1000, got 0/],
    ["an allocation ratio over 1000", () => validateAllocationRatios({ disk_allocation_ratio: 1000.5 }), /^disk_allocation_ratio: must be above 0 and at most 1000/],
    ["a NaN allocation ratio", () => validateAllocationRatios({ memory_allocation_ratio: NaN }), /^memory_allocation_ratio: .* got NaN/],
    ["port 99999 in a node address", () => validateAddress("address", "10.0.0.5:99999"), /^address: must be host:port with a port from 1 to 65535 .*got "10\.0\.0\.5:99999"/],
    ["port 0 in a node address", () => validateAddress("address", "h:0"), /^address: must be host:port with a port from 1/],
    ["a node address without a port", () => validateAddress("address", "h"), /^address: must be host:port/],
    ["a node address with a path", () => validateAddress("address", "h:80/x"), /^address: must be host:port/],
    ["2^31 vCPUs on a node", () => validateNodeCapacity("capacity", { vcpus: 2 ** 31, memoryMib: 1024, diskGib: 0 }), /^capacity\.vcpus: must be a whole number from 1 to 65536, got 2147483648/],
    ["2^53 MiB of memory on a node", () => validateNodeCapacity("capacity", { vcpus: 1, memoryMib: 2 ** 53, diskGib: 0 }), /^capacity\.memory_mib: must be a whole number from 1 to 4294967296/],
    ["2^40 GiB of disk on a node", () => validateNodeCapacity("capacity", { vcpus: 1, memoryMib: 1, diskGib: 2 ** 40 }), /^capacity\.disk_gib: must be a whole number from 0 to 4294967296/],
    ["no capacity on a node", () => validateNodeCapacity("capacity", undefined), /^capacity: is required/],
    ["a space in subject_prefix", () => validateSubjectPrefix("subject_prefix", "drover vm"), /^subject_prefix: must be up to 256 letters/],
    ["a NUL in subject_prefix", () => validateSubjectPrefix("subject_prefix", "drover.\u0000"), /^subject_prefix: must be up to 256 letters/],
  ])("refuses %s", (_, fn, message) => {
    const got = statusOf(fn);
    expect(got.code).toBe(status.INVALID_ARGUMENT);
    expect(got.details).toMatch(message);
  });

  it("accepts good ones, and lowercases a VM id", () => {
    expect(validateNodeName("name", "host-1.rack_2")).toBe("host-1.rack_2");
    expect(validateId("id", "0F8FAD5B-D9CB-469F-A165-70867728950E")).toBe("0f8fad5b-d9cb-469f-a165-70867728950e");
    expect(() => validateLabels("labels", { "topology.kubernetes.io/zone": "a" })).not.toThrow();
    expect(() => validateAllocationRatios({ cpu_allocation_ratio: undefined, memory_allocation_ratio: 1000, disk_allocation_ratio: 0.5 })).not.toThrow();
    for (const a of ["10.0.0.5:7001", "host-1.example:65535", "[::1]:1", "[fd00::5]:7001"]) expect(validateAddress("address", a)).toBe(a);
    expect(() => validateNodeCapacity("capacity", { vcpus: 65_536, memoryMib: 2 ** 32, diskGib: 0 })).not.toThrow();
    expect(validateSubjectPrefix("subject_prefix", "drover.vm.")).toBe("drover.vm.");
    expect(validateSubjectPrefix("subject_prefix", "")).toBe("");
  });

  it("knows no state for an enum number the proto does not define (the decoder passes it through)", () => {
    expect(vmStateName(99 as VmState)).toBeUndefined();
    expect(nodeStateName(-5 as NodeState)).toBeUndefined();
    expect(vmStateName(VmState.VM_STATE_RUNNING)).toBe("RUNNING");
    expect(nodeStateName(NodeState.NODE_STATE_DOWN)).toBe("DOWN");
  });
});
