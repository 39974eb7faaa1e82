// VMs name catalog images and networks: paths, traversal, another VM's disk and unknown names are
// refused at the API before anything is created; a file whose sha256 differs is refused by the agent.
import { createHash } from "node:crypto";
import { mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { run } from "@drover/cli";
import { type Image, ImageFormat, NetworkType, VmState } from "@drover/proto";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { rejects, vmSpec } from "../support/requests.js";
import { waitFor } from "../support/wait.js";

const CONTENT = Buffer.from("raw image bytes for the catalog test\n");
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const image = (name: string, over: Partial<Image> = {}): Image => ({
  name, format: ImageFormat.IMAGE_FORMAT_RAW, sizeBytes: CONTENT.length, sha256: sha256(CONTENT), kernel: "", initrd: "", cmdline: "", kernelSha256: "", initrdSha256: "", ...over,
});

describe("image and network catalogs", () => {
  let cluster: TestCluster;
  const imageDir = mkdtempSync(join(tmpdir(), "drover-catalog-images-"));
  const shadowOwner = () => ({ uid: statSync("/etc/shadow").uid, gid: statSync("/etc/shadow").gid });
  const before = shadowOwner();

  beforeAll(async () => {
    writeFileSync(join(imageDir, "debian-12"), CONTENT);
    writeFileSync(join(imageDir, "changed"), Buffer.from("other bytes, same length as the image!\n").subarray(0, CONTENT.length));
    cluster = await startTestCluster([{ name: "c1", vcpus: 4, memoryMib: 8192, imageDir }]);
    await cluster.api.createImage(image("debian-12"));
    await cluster.api.createImage(image("changed"));
    await cluster.api.createNetwork("default", "libvirt's NAT network");
  });
  afterAll(() => cluster?.stop());

  it("registers, lists and gets images, and refuses a duplicate or a bad entry", async () => {
    expect((await cluster.api.listImages()).map((i) => i.name)).toEqual(["changed", "debian-12"]);
    expect(await cluster.api.getImage("debian-12")).toMatchObject({ format: ImageFormat.IMAGE_FORMAT_RAW, sizeBytes: CONTENT.length, sha256: sha256(CONTENT) });
    expect((await rejects(cluster.api.createImage(image("debian-12")))).code).toBe(status.ALREADY_EXISTS);
    for (const [bad, field] of [
      [image("/etc/shadow"), /^image\.name: /],
      [image("../x"), /^image\.name: /],
      [image("x", { sha256: "abc" }), /^image\.sha256: /],
      [image("x", { format: ImageFormat.IMAGE_FORMAT_UNSPECIFIED }), /^image\.format: must be QCOW2 or RAW/],
      [image("x", { sizeBytes: 0 }), /^image\.size_bytes: /],
      [image("x", { kernel: "../vmlinuz" }), /^image\.kernel: /],
      [image("x", { kernel: "vmlinuz" }), /^image\.kernel_sha256: is required with image\.kernel/],
      [image("x", { kernel: "vmlinuz", kernelSha256: "abc" }), /^image\.kernel_sha256: .*64 hex digits/],
      [image("x", { kernel: "vmlinuz", kernelSha256: sha256(CONTENT), initrd: "initrd.img", initrdSha256: "g".repeat(64) }), /^image\.initrd_sha256: .*64 hex digits/],
      [image("x", { kernelSha256: sha256(CONTENT) }), /^image\.kernel_sha256: needs image\.kernel/],
    ] as const) {
      const err = await rejects(cluster.api.createImage(bad));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(field);
    }
    expect((await rejects(cluster.api.getImage("nope"))).code).toBe(status.NOT_FOUND);
  });

  it.each([
    ["/etc/shadow", /^template\.image: must be the name of a catalog image .*not a path/],
    ["/var/lib/drover/../../../../etc/shadow", /^template\.image: .*not a path/],
    ["../../../../etc/shadow", /^template\.image: .*not a path/],
    ["/var/lib/drover/disks/0f8fad5b-d9cb-469f-a165-70867728950e.qcow2", /^template\.image: .*not a path/],
    ["unknown-image", /^template\.image: names no catalog image: "unknown-image"/],
  ])("refuses image %s at the API, creating nothing", async (name, message) => {
    const err = await rejects(cluster.api.createVms({ template: vmSpec("bad", 1, 256, { image: name, diskGib: 1 }), count: 1 }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(message);
    expect((await cluster.api.listVms()).vms.filter((v) => v.spec?.name === "bad")).toHaveLength(0);
    expect(shadowOwner()).toEqual(before);
  });

  it("refuses an unknown network at the API, naming the group's field", async () => {
    const err = await rejects(cluster.api.createVms({ groups: [{ template: vmSpec("ok", 1, 256), count: 1 }, { template: vmSpec("net", 1, 256, { network: "host-bridge" }), count: 1 }] }));
    expect(err.code).toBe(status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/^groups\[1\]\.template\.network: names no catalog network: "host-bridge"/);
    expect((await cluster.api.listVms()).vms).toHaveLength(0);
  });

  it("registers Linux bridges by their device name, and refuses a bad bridge name or an unknown type", async () => {
    const br = await cluster.api.createNetwork("br-lab", "a bridge on every node", NetworkType.NETWORK_TYPE_BRIDGE);
    expect(br).toMatchObject({ name: "br-lab", type: NetworkType.NETWORK_TYPE_BRIDGE });
    expect((await cluster.api.listNetworks()).find((n) => n.name === "default")?.type).toBe(NetworkType.NETWORK_TYPE_LIBVIRT);
    for (const [name, type, message] of [
      ["a-bridge-name-too-long", NetworkType.NETWORK_TYPE_BRIDGE, /^network\.name: must be a Linux bridge's name: 1-15/],
      ["br/../x", NetworkType.NETWORK_TYPE_BRIDGE, /^network\.name: must be a Linux bridge's name/],
      ["br-x", 7 as NetworkType, /^network\.type: must be LIBVIRT .* or BRIDGE/],
    ] as const) {
      const err = await rejects(cluster.api.createNetwork(name, "", type));
      expect(err.code).toBe(status.INVALID_ARGUMENT);
      expect(err.details).toMatch(message);
    }
    await cluster.api.deleteNetwork("br-lab");
  });

  it("runs a VM from a catalog image on a registered network; the image cannot be deleted while it is used", async () => {
    const { vms } = await cluster.api.createVms({ template: vmSpec("web", 1, 256, { image: "debian-12", diskGib: 1, network: "default" }), count: 1 });
    const id = vms[0]!.id;
    await waitFor("RUNNING", async () => ((await cluster.api.getVm(id)).state === VmState.VM_STATE_RUNNING ? true : undefined));
    expect((await rejects(cluster.api.deleteImage("debian-12"))).code).toBe(status.FAILED_PRECONDITION);
    expect((await rejects(cluster.api.deleteNetwork("default"))).code).toBe(status.FAILED_PRECONDITION);
    await cluster.api.deleteVm(id);
    await waitFor("DELETED", async () => ((await cluster.api.getVm(id)).state === VmState.VM_STATE_DELETED ? true : undefined));
    await cluster.api.deleteImage("debian-12");
    expect((await rejects(cluster.api.getImage("debian-12"))).code).toBe(status.NOT_FOUND);
  });

  it("fails a VM whose image file on the node does not match the catalog's sha256", async () => {
    const { vms } = await cluster.api.createVms({ template: vmSpec("tampered", 1, 256, { image: "changed", diskGib: 1 }), count: 1 });
    const id = vms[0]!.id;
    const vm = await waitFor("FAILED", async () => {
      const v = await cluster.api.getVm(id);
      return v.state === VmState.VM_STATE_FAILED ? v : undefined;
    }, 20_000);
    expect(vm.reason).toMatch(/image changed has sha256 [0-9a-f]{64} on this node, the catalog says/);
  });

  it("checks an image's kernel and initrd against their catalog sha256s: a match runs, a mismatch fails the VM saying why", async () => {
    const kernel = Buffer.from("a kernel for the catalog test\n");
    const initrd = Buffer.from("an initrd for the catalog test\n");
    writeFileSync(join(imageDir, "boot-disk"), CONTENT);
    writeFileSync(join(imageDir, "boot-vmlinuz"), kernel);
    writeFileSync(join(imageDir, "boot-initrd"), initrd);
    const boot = { kernel: "boot-vmlinuz", kernelSha256: sha256(kernel), initrd: "boot-initrd", initrdSha256: sha256(initrd), cmdline: "console=ttyS0" };
    await cluster.api.createImage(image("boot-disk", boot));
    expect(await cluster.api.getImage("boot-disk")).toMatchObject({ kernelSha256: sha256(kernel), initrdSha256: sha256(initrd) });
    // Same disk file, but the catalog vouches for another kernel than the node holds.
    writeFileSync(join(imageDir, "boot-bad"), CONTENT);
    await cluster.api.createImage(image("boot-bad", { ...boot, kernelSha256: sha256(Buffer.from("the kernel the admin meant\n")) }));

    const good = (await cluster.api.createVms({ template: vmSpec("boot-ok", 1, 256, { image: "boot-disk", diskGib: 1 }), count: 1 })).vms[0]!.id;
    await waitFor("RUNNING", async () => ((await cluster.api.getVm(good)).state === VmState.VM_STATE_RUNNING ? true : undefined));
    const bad = (await cluster.api.createVms({ template: vmSpec("boot-tampered", 1, 256, { image: "boot-bad", diskGib: 1 }), count: 1 })).vms[0]!.id;
    const vm = await waitFor("FAILED", async () => {
      const v = await cluster.api.getVm(bad);
      return v.state === VmState.VM_STATE_FAILED ? v : undefined;
    }, 20_000);
    expect(vm.reason).toMatch(new RegExp(`image boot-bad kernel boot-vmlinuz has sha256 ${sha256(kernel)} on this node, the catalog says [0-9a-f]{64}`));
    await cluster.api.deleteVm(good);
  });

  it("drover image and network commands register, list, show and delete", async () => {
    const drover = async (...argv: string[]) => {
      let out = "";
      let err = "";
      const code = await run(argv, { DROVER_ADDR: cluster.scheduler.address, DROVER_INSECURE: "1", HOME: "/nonexistent-drover-home" }, { stdout: (t) => (out += t), stderr: (t) => (err += t) });
      return { code, out, err };
    };
    writeFileSync(join(imageDir, "cli-img"), CONTENT);
    expect((await drover("image", "create", "cli-img", "--format", "raw", "--file", join(imageDir, "cli-img"))).code).toBe(0);
    expect((await cluster.api.getImage("cli-img")).sha256).toBe(sha256(CONTENT));
    expect((await drover("image", "list")).out).toMatch(new RegExp(`cli-img\\s+raw\\s+${CONTENT.length}\\s+${sha256(CONTENT)}`));
    expect((await drover("image", "get", "cli-img")).out).toMatch(/Format:\s+raw/);
    const bad = await drover("image", "create", "x", "--format", "vmdk", "--size", "1", "--sha256", "0".repeat(64));
    expect(bad.code).toBe(2);
    expect((await drover("network", "create", "cli-net", "--description", "for the CLI")).code).toBe(0);
    expect((await drover("network", "create", "cli-br", "--type", "bridge")).code).toBe(0);
    expect((await drover("network", "create", "cli-x", "--type", "ovs")).code).toBe(2);
    const listed = (await drover("network", "list")).out;
    expect(listed).toMatch(/cli-net +libvirt +for the CLI/);
    expect(listed).toMatch(/cli-br +bridge/);
    expect((await drover("network", "delete", "cli-br")).code).toBe(0);
    expect((await drover("network", "delete", "cli-net")).code).toBe(0);
    expect((await drover("image", "delete", "cli-img")).code).toBe(0);
    expect((await drover("image", "get", "cli-img")).code).not.toBe(0);
  });
});
