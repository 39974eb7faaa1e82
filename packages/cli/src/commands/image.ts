// drover image create|list|get|delete, and drover network create|list|delete: the catalogs VMs
// name their image and network from (admins and operators change them).
import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { basename } from "node:path";
import { CreateImageResponse, CreateNetworkResponse, GetImageResponse, type Image, ImageFormat, ListImagesResponse, ListNetworksResponse, NetworkType } from "@drover/proto";
import { unary } from "../client.js";
import { callSettings, type Command, GLOBAL_FLAGS_HELP, group, type Group, str, UsageError } from "../command.js";
import { printAnswer, printList } from "../output.js";
import { formatJson } from "../format.js";

const formatName = (f: ImageFormat) => (f === ImageFormat.IMAGE_FORMAT_QCOW2 ? "qcow2" : f === ImageFormat.IMAGE_FORMAT_RAW ? "raw" : "?");

function sha256Of(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    createReadStream(path).on("data", (c) => hash.update(c)).on("error", reject).on("end", () => resolve(hash.digest("hex")));
  });
}

function imageTable(images: Image[]): string {
  const rows = [["NAME", "FORMAT", "SIZE", "SHA256"], ...images.map((i) => [i.name, formatName(i.format), String(i.sizeBytes), i.sha256])];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!))).join("  ")).join("\n") + "\n";
}

const create: Command = {
  name: "create",
  summary: "register an image (admin, operator)",
  usage: `Usage: drover image create NAME --format qcow2|raw (--file PATH | --size BYTES --sha256 HEX)
           [--kernel NAME --kernel-sha256 HEX [--initrd NAME --initrd-sha256 HEX] [--cmdline TEXT]]

Registers NAME in the catalog. Every node must hold the file as NAME in its
image directory (DROVER_IMAGE_DIR); it checks the size and sha256 before first
use and backs disks with it in this format. --file reads size and sha256 from a
local copy of the file.

  --format F        qcow2 or raw (never probed)
  --file PATH       compute --size and --sha256 from this file
  --size BYTES      the file's size
  --sha256 HEX      the file's SHA-256 (sha256sum)
  --kernel NAME          direct kernel boot: a file in the image directory
  --kernel-sha256 HEX    the kernel file's SHA-256 (required with --kernel;
                         nodes check it before first use, like the image's)
  --initrd NAME          its initrd
  --initrd-sha256 HEX    the initrd file's SHA-256 (required with --initrd)
  --cmdline TEXT         the kernel command line

${GLOBAL_FLAGS_HELP}
`,
  args: ["NAME"],
  options: {
    format: { type: "string" }, file: { type: "string" }, size: { type: "string" }, sha256: { type: "string" },
    kernel: { type: "string" }, initrd: { type: "string" }, cmdline: { type: "string" },
    "kernel-sha256": { type: "string" }, "initrd-sha256": { type: "string" },
  },
  async run(ctx, args, values) {
    const fmt = str(values, "format");
    const format = fmt === "qcow2" ? ImageFormat.IMAGE_FORMAT_QCOW2 : fmt === "raw" ? ImageFormat.IMAGE_FORMAT_RAW : undefined;
    if (format === undefined) throw new UsageError("--format must be qcow2 or raw", "image create");
    const file = str(values, "file");
    let sizeBytes = Number(str(values, "size") ?? "0");
    let sha256 = str(values, "sha256") ?? "";
    if (file) {
      sizeBytes = statSync(file).size;
      sha256 = await sha256Of(file);
      if (basename(file) !== args[0]) ctx.io.stderr(`note: nodes look for the file as ${args[0]} in their image directory, not as ${basename(file)}\n`);
    } else if (!sha256 || !(sizeBytes > 0)) {
      throw new UsageError("give --file, or both --size and --sha256", "image create");
    }
    const image: Image = {
      name: args[0]!, format, sizeBytes, sha256,
      kernel: str(values, "kernel") ?? "", initrd: str(values, "initrd") ?? "", cmdline: str(values, "cmdline") ?? "",
      kernelSha256: str(values, "kernel-sha256") ?? "", initrdSha256: str(values, "initrd-sha256") ?? "",
    };
    const c = ctx.clients();
    const res = await unary(c.image.createImage.bind(c.image), { image }, callSettings(ctx));
    printAnswer(ctx, CreateImageResponse.toJSON(res), () => imageTable(res.image ? [res.image] : []));
    return 0;
  },
};

const list: Command = {
  name: "list",
  summary: "list catalog images",
  usage: `Usage: drover image list\n\n${GLOBAL_FLAGS_HELP}\n`,
  args: [],
  options: {},
  async run(ctx) {
    const c = ctx.clients();
    const res = await unary(c.image.listImages.bind(c.image), {}, callSettings(ctx));
    printList(ctx, ListImagesResponse.toJSON(res), res.images, imageTable, "images");
    return 0;
  },
};

const get: Command = {
  name: "get",
  summary: "show one image",
  usage: `Usage: drover image get NAME\n\n${GLOBAL_FLAGS_HELP}\n`,
  args: ["NAME"],
  options: {},
  async run(ctx, args) {
    const c = ctx.clients();
    const res = await unary(c.image.getImage.bind(c.image), { name: args[0]! }, callSettings(ctx));
    if (ctx.output === "json") ctx.io.stdout(formatJson(GetImageResponse.toJSON(res)));
    else if (res.image) {
      const i = res.image;
      ctx.io.stdout(`Name:     ${i.name}\nFormat:   ${formatName(i.format)}\nSize:     ${i.sizeBytes} bytes\nSHA256:   ${i.sha256}\n` +
        (i.kernel ? `Kernel:   ${i.kernel} (sha256 ${i.kernelSha256})\nInitrd:   ${i.initrd}${i.initrd ? ` (sha256 ${i.initrdSha256})` : ""}\nCmdline:  ${i.cmdline}\n` : ""));
    }
    return 0;
  },
};

const remove: Command = {
  name: "delete",
  summary: "remove an image from the catalog (admin, operator)",
  usage: `Usage: drover image delete NAME\n\nRefused while a VM that is not DELETED uses it.\n\n${GLOBAL_FLAGS_HELP}\n`,
  args: ["NAME"],
  options: {},
  async run(ctx, args) {
    const c = ctx.clients();
    await unary(c.image.deleteImage.bind(c.image), { name: args[0]! }, callSettings(ctx));
    ctx.io.stderr(`image ${args[0]} deleted\n`);
    return 0;
  },
};

const imageCommands = [create, list, get, remove];
export const imageGroup: Group = group({ name: "image", summary: "the image catalog VMs boot from", commands: imageCommands });

const typeName = (t: NetworkType) => (t === NetworkType.NETWORK_TYPE_BRIDGE ? "bridge" : "libvirt");

const netCreate: Command = {
  name: "create",
  summary: "register a libvirt network or a Linux bridge VMs may attach to (admin, operator)",
  usage: `Usage: drover network create NAME [--type libvirt|bridge] [--description TEXT]

  --type libvirt    NAME is a libvirt network on every node (virsh net-list); the
                    default. Its DHCP leases are reported as the VMs' addresses
  --type bridge     NAME is a Linux bridge on every node (ip link add NAME type
                    bridge); VMs on it report only a static address (--ip)

${GLOBAL_FLAGS_HELP}
`,
  args: ["NAME"],
  options: { description: { type: "string" }, type: { type: "string" } },
  async run(ctx, args, values) {
    const t = str(values, "type") ?? "libvirt";
    if (t !== "libvirt" && t !== "bridge") throw new UsageError("--type must be libvirt or bridge", "network create");
    const type = t === "bridge" ? NetworkType.NETWORK_TYPE_BRIDGE : NetworkType.NETWORK_TYPE_LIBVIRT;
    const c = ctx.clients();
    const res = await unary(c.network.createNetwork.bind(c.network), { network: { name: args[0]!, description: str(values, "description") ?? "", type } }, callSettings(ctx));
    printAnswer(ctx, CreateNetworkResponse.toJSON(res), () => `${res.network?.name}\n`);
    return 0;
  },
};

const netList: Command = {
  name: "list",
  summary: "list catalog networks",
  usage: `Usage: drover network list\n\n${GLOBAL_FLAGS_HELP}\n`,
  args: [],
  options: {},
  async run(ctx) {
    const c = ctx.clients();
    const res = await unary(c.network.listNetworks.bind(c.network), {}, callSettings(ctx));
    if (ctx.output === "json") ctx.io.stdout(formatJson(ListNetworksResponse.toJSON(res)));
    else if (res.networks.length === 0) ctx.io.stderr("No networks found.\n");
    else {
      const rows = [["NAME", "TYPE", "DESCRIPTION"], ...res.networks.map((n) => [n.name, typeName(n.type), n.description])];
      const widths = [0, 1].map((c) => Math.max(...rows.map((r) => r[c]!.length)));
      ctx.io.stdout(rows.map((r) => `${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padEnd(widths[1]!)}  ${r[2]}`.trimEnd()).join("\n") + "\n");
    }
    return 0;
  },
};

const netDelete: Command = {
  name: "delete",
  summary: "remove a network from the catalog (admin, operator)",
  usage: `Usage: drover network delete NAME\n\nRefused while a VM that is not DELETED uses it.\n\n${GLOBAL_FLAGS_HELP}\n`,
  args: ["NAME"],
  options: {},
  async run(ctx, args) {
    const c = ctx.clients();
    await unary(c.network.deleteNetwork.bind(c.network), { name: args[0]! }, callSettings(ctx));
    ctx.io.stderr(`network ${args[0]} deleted\n`);
    return 0;
  },
};

const networkCommands = [netCreate, netList, netDelete];
export const networkGroup: Group = group({ name: "network", summary: "the networks VMs may attach to", commands: networkCommands });
