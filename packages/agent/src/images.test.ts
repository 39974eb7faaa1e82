// The agent backs disks only with catalog images from its image directory: names, never paths;
// symlinks that leave the directory refused; size and sha256 checked before first use.
import { createHash, randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, readdirSync, statSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServiceError, credentials, status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AgentServiceClient, type Image, ImageFormat, type VmSpec } from "@drover/proto";
import { type RunningAgent, startAgent } from "./agent.js";
import { resolveBootFile, resolveImage, verifyImage, verifyImageBootFiles } from "./images.js";
import { testHostUri } from "./test-host.js";

const CLUSTER = "5d0c3f0e-8a41-4c1e-9b7a-2f64c8d1e901";
const CONTENT = Buffer.from("a raw disk image, as far as this test is concerned\n");
const SHA = createHash("sha256").update(CONTENT).digest("hex");

const image = (name: string, over: Partial<Image> = {}): Image => ({
  name, format: ImageFormat.IMAGE_FORMAT_RAW, sizeBytes: CONTENT.length, sha256: SHA, kernel: "", initrd: "", cmdline: "", kernelSha256: "", initrdSha256: "", ...over,
});
const spec = (imageName: string): VmSpec => ({ name: "img", vcpus: 1, memoryMib: 64, diskGib: 1, image: imageName, userData: "", network: "", labels: {}, kernel: "", initrd: "", cmdline: "", restartPolicy: "" });

function rpc<Res>(client: AgentServiceClient, method: keyof AgentServiceClient, req: object): Promise<Res> {
  const fn = client[method] as unknown as (r: object, cb: (e: ServiceError | null, res: Res) => void) => void;
  return new Promise((resolve, reject) => fn.call(client, req, (e, res) => (e ? reject(e) : resolve(res))));
}

describe("EnsureDomain with a base image", () => {
  const root = mkdtempSync(join(tmpdir(), "drover-images-"));
  const imageDir = join(root, "images");
  const stateDir = join(root, "state");
  let agent: RunningAgent;
  let client: AgentServiceClient;
  const shadowOwner = () => ({ uid: statSync("/etc/shadow").uid, gid: statSync("/etc/shadow").gid });
  const before = shadowOwner();

  beforeAll(async () => {
    mkdirSync(imageDir);
    mkdirSync(join(stateDir, "disks"), { recursive: true });
    writeFileSync(join(imageDir, "debian-12"), CONTENT);
    writeFileSync(join(imageDir, "tampered"), Buffer.from(CONTENT).fill(0x41, 0, 1));
    writeFileSync(join(root, "outside"), CONTENT);
    writeFileSync(join(stateDir, "disks", "other-vm.qcow2"), CONTENT);
    symlinkSync("/etc/shadow", join(imageDir, "shadow-link"));
    symlinkSync(join(root, "outside"), join(imageDir, "outside-link"));
    symlinkSync(join(stateDir, "disks", "other-vm.qcow2"), join(imageDir, "disk-link"));
    symlinkSync("debian-12", join(imageDir, "alias")); // inside the directory: fine
    agent = await startAgent(
      { insecure: true, nodeName: "images", libvirtUri: testHostUri(), listen: "127.0.0.1:0", schedulerAddress: "127.0.0.1:1", clusterId: CLUSTER, stateDir, imageDir },
      { log: () => {} },
    );
    client = new AgentServiceClient(agent.address, credentials.createInsecure());
  });
  afterAll(async () => {
    client?.close();
    await agent?.stop();
  });

  const ensure = (name: string, img: Image | undefined) => rpc(client, "ensureDomain", { vmId: randomUUID(), spec: spec(name), image: img });
  async function refused(name: string, img: Image | undefined): Promise<ServiceError> {
    const err = (await ensure(name, img).then(() => undefined, (e: ServiceError) => e))!;
    expect(err).toBeDefined();
    return err;
  }

  it.each([
    ["/etc/shadow", status.INVALID_ARGUMENT, /spec\.image must be a catalog image name .*not a path/],
    ["../../../../etc/shadow", status.INVALID_ARGUMENT, /not a path/],
    ["disks/other-vm.qcow2", status.INVALID_ARGUMENT, /not a path/],
    ["..", status.INVALID_ARGUMENT, /not a path|catalog image name/],
    ["shadow-link", status.FAILED_PRECONDITION, /resolves to \/etc\/shadow, outside the image directory/],
    ["outside-link", status.FAILED_PRECONDITION, /outside the image directory/],
    ["disk-link", status.FAILED_PRECONDITION, /outside the image directory/],
    ["missing", status.FAILED_PRECONDITION, /image missing cannot be used from .*: no such file/],
    ["tampered", status.FAILED_PRECONDITION, /image tampered has sha256 [0-9a-f]{64} on this node, the catalog says/],
  ])("refuses %s (%s) and leaves nothing behind", async (name, code, message) => {
    const err = await refused(name, image(name));
    expect(err.code).toBe(code);
    expect(err.details).toMatch(message);
    expect(shadowOwner()).toEqual(before);
    expect((await rpc<{ domains: unknown[] }>(client, "listDomains", {})).domains).toEqual([]);
    expect(readdirSync(join(stateDir, "disks"))).toEqual(["other-vm.qcow2"]);
  });

  it("refuses an image without its catalog entry, or another entry's", async () => {
    expect((await refused("debian-12", undefined)).details).toMatch(/image is required with spec\.image "debian-12": the agent backs disks only with catalog images/);
    expect((await refused("debian-12", image("other"))).details).toMatch(/image\.name must equal spec\.image/);
    expect((await refused("debian-12", image("debian-12", { format: ImageFormat.IMAGE_FORMAT_UNSPECIFIED }))).code).toBe(status.INVALID_ARGUMENT);
    expect((await refused("debian-12", image("debian-12", { sizeBytes: 1 }))).details).toMatch(/is \d+ bytes on this node, the catalog says 1/);
  });

  it("accepts a verified image, also through a symlink that stays inside", async () => {
    await ensure("debian-12", image("debian-12"));
    await ensure("alias", image("alias"));
    expect((await rpc<{ domains: unknown[] }>(client, "listDomains", {})).domains).toHaveLength(2);
  });
});

describe("verifyImage", () => {
  it("checks again once the file changes (size or mtime)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "drover-verify-"));
    const file = join(dir, "img");
    writeFileSync(file, CONTENT);
    const resolved = await resolveImage(dir, image("img"));
    await verifyImage(resolved, image("img"));
    // Same size, other bytes, new mtime: the cached answer must not be reused.
    writeFileSync(file, Buffer.from(CONTENT).fill(0x42, 0, 1));
    utimesSync(file, new Date(), new Date(Date.now() + 5000));
    await expect(verifyImage(resolved, image("img"))).rejects.toThrow(/has sha256/);
  });
});

describe("resolveBootFile", () => {
  const dir = mkdtempSync(join(tmpdir(), "drover-boot-"));
  writeFileSync(join(dir, "vmlinuz"), "kernel");
  symlinkSync("/etc/shadow", join(dir, "shadow-link"));

  it("resolves a kernel name inside the image directory", async () => {
    expect(await resolveBootFile(dir, "vmlinuz")).toBe(join(dir, "vmlinuz"));
  });

  it.each([
    ["/etc/shadow", /not a path/],
    ["../../etc/shadow", /not a path/],
    ["shadow-link", /outside the image directory/],
  ])("refuses %s as a kernel or initrd", async (name, message) => {
    await expect(resolveBootFile(dir, name)).rejects.toThrow(message);
  });
});

describe("verifyImageBootFiles", () => {
  const dir = mkdtempSync(join(tmpdir(), "drover-boot-sha-"));
  const kernel = join(dir, "vmlinuz");
  const initrd = join(dir, "initrd.img");
  writeFileSync(kernel, "kernel");
  writeFileSync(initrd, "initrd");
  const sha = (s: string) => createHash("sha256").update(s).digest("hex");
  const boot = (over: Partial<Image> = {}) => image("img", { kernel: "vmlinuz", kernelSha256: sha("kernel"), initrd: "initrd.img", initrdSha256: sha("initrd"), ...over });

  it("accepts files matching the catalog's sha256s and refuses a kernel or initrd that differs, naming it", async () => {
    await verifyImageBootFiles(boot(), kernel, initrd);
    await expect(verifyImageBootFiles(boot({ kernelSha256: sha("other") }), kernel, initrd)).rejects.toThrow(
      `image img kernel vmlinuz has sha256 ${sha("kernel")} on this node, the catalog says ${sha("other")}`,
    );
    await expect(verifyImageBootFiles(boot({ initrdSha256: sha("other") }), kernel, initrd)).rejects.toThrow(/image img initrd initrd\.img has sha256/);
  });

  it("refuses a boot file the catalog has no sha256 for (an entry registered before they existed)", async () => {
    await expect(verifyImageBootFiles(boot({ kernelSha256: "" }), kernel, initrd)).rejects.toThrow(/has no kernel_sha256 registered for its kernel vmlinuz/);
  });
});
