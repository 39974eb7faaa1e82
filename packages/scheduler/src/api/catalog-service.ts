// ImageService and NetworkService: the catalogs VMs name their image and network from.
import { type Image, ImageFormat, imageFormatName, type ImageServiceServer, type Network, type NetworkServiceServer, NetworkType } from "@drover/proto";
import { type CatalogImage, type CatalogNetwork, type ImageFormatName, type NetworkTypeName, deleteImage, deleteNetwork, getImage, insertImage, insertNetwork, listImages, listNetworks } from "@drover/store";
import { AlreadyExistsError, NotFoundError, ValidationError, WrongStateError } from "../errors.js";
import type { SchedulerContext } from "../context.js";
import { toTimestamp } from "./convert.js";
import { FLEET, guardedUnary, READ } from "../auth/index.js";
import { validateBridgeName, validateImageName, validateNetworkName } from "./validation.js";

const SHA256 = /^[0-9a-f]{64}$/;
// Direct kernel boot files are names in the image directory too; the command line is free text.
const MAX_CMDLINE = 2048;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function formatName(format: ImageFormat): ImageFormatName {
  const name = imageFormatName(format);
  if (!name) throw new ValidationError("image.format", "must be QCOW2 or RAW (the agent never probes a file's format)");
  return name;
}

export function imageToProto(i: CatalogImage): Image {
  return {
    name: i.name,
    format: i.format === "qcow2" ? ImageFormat.IMAGE_FORMAT_QCOW2 : ImageFormat.IMAGE_FORMAT_RAW,
    sizeBytes: i.sizeBytes,
    sha256: i.sha256,
    kernel: i.kernel,
    initrd: i.initrd,
    cmdline: i.cmdline,
    kernelSha256: i.kernelSha256,
    initrdSha256: i.initrdSha256,
    createdAt: toTimestamp(i.createdAt),
  };
}

export function networkTypeName(type: NetworkType): NetworkTypeName {
  switch (type) {
    case NetworkType.NETWORK_TYPE_UNSPECIFIED:
    case NetworkType.NETWORK_TYPE_LIBVIRT:
      return "libvirt";
    case NetworkType.NETWORK_TYPE_BRIDGE:
      return "bridge";
    case NetworkType.UNRECOGNIZED:
      break;
  }
  // The binary decoder keeps an unknown number as it came (not UNRECOGNIZED): refused here too.
  throw new ValidationError("network.type", `must be LIBVIRT (a libvirt network) or BRIDGE (a Linux bridge), got ${type}`);
}

export const networkToProto = (n: CatalogNetwork): Network => ({
  name: n.name,
  description: n.description,
  type: n.type === "bridge" ? NetworkType.NETWORK_TYPE_BRIDGE : NetworkType.NETWORK_TYPE_LIBVIRT,
  createdAt: toTimestamp(n.createdAt),
});

function validateImage(image: Image | undefined): Omit<CatalogImage, "createdAt"> {
  if (!image) throw new ValidationError("image", "is required");
  const name = validateImageName("image.name", image.name);
  const format = formatName(image.format);
  if (!Number.isSafeInteger(image.sizeBytes) || image.sizeBytes < 1) throw new ValidationError("image.size_bytes", `must be the file's size in bytes (at least 1), got ${image.sizeBytes}`);
  const sha256 = image.sha256.toLowerCase();
  if (!SHA256.test(sha256)) throw new ValidationError("image.sha256", "must be the file's SHA-256 as 64 hex digits (sha256sum FILE)");
  const bootSha = (file: "kernel" | "initrd", name: string, given: string): string => {
    if (!name) {
      if (given) throw new ValidationError(`image.${file}_sha256`, `needs image.${file} (it is that file's SHA-256)`);
      return "";
    }
    validateImageName(`image.${file}`, name);
    const sha = given.toLowerCase();
    if (!SHA256.test(sha)) throw new ValidationError(`image.${file}_sha256`, `is required with image.${file}: the ${file} file's SHA-256 as 64 hex digits (sha256sum FILE)`);
    return sha;
  };
  const kernelSha256 = bootSha("kernel", image.kernel, image.kernelSha256);
  const initrdSha256 = bootSha("initrd", image.initrd, image.initrdSha256);
  if (image.cmdline.length > MAX_CMDLINE) throw new ValidationError("image.cmdline", `must be at most ${MAX_CMDLINE} characters, got ${image.cmdline.length}`);
  if (CONTROL.test(image.cmdline)) throw new ValidationError("image.cmdline", "must not contain control characters");
  if (image.cmdline && !image.kernel) throw new ValidationError("image.cmdline", "needs image.kernel (it is the kernel's command line)");
  if (image.initrd && !image.kernel) throw new ValidationError("image.initrd", "needs image.kernel");
  return { name, format, sizeBytes: image.sizeBytes, sha256, kernel: image.kernel, initrd: image.initrd, cmdline: image.cmdline, kernelSha256, initrdSha256 };
}

// Catalog changes are for admins and operators (FLEET); every role may read the catalog, as VMs name it.
const byName = <R extends { name: string }>(req: R) => req.name;

export function imageService(ctx: SchedulerContext): ImageServiceServer {
  const unary = guardedUnary(ctx);
  return {
    createImage: unary(FLEET, async (req) => {
      const image = validateImage(req.image);
      const created = await insertImage(ctx.sql, image);
      if (!created) throw new AlreadyExistsError("image", image.name);
      ctx.log(`image ${image.name} registered (${image.format}, ${image.sizeBytes} bytes, sha256 ${image.sha256})`);
      return { image: imageToProto(created) };
    }, (req) => req.image?.name ?? ""),
    listImages: unary(READ, async () => ({ images: (await listImages(ctx.sql)).map(imageToProto) })),
    getImage: unary(READ, async (req) => {
      const image = await getImage(ctx.sql, validateImageName("name", req.name));
      if (!image) throw new NotFoundError("image", req.name, "drover image list shows the catalog");
      return { image: imageToProto(image) };
    }),
    deleteImage: unary(FLEET, async (req) => {
      const result = await deleteImage(ctx.sql, validateImageName("name", req.name));
      if (result === "missing") throw new NotFoundError("image", req.name);
      if (result === "in-use") throw new WrongStateError(`image ${req.name} is used by VMs that are not DELETED; delete them first`);
      ctx.log(`image ${req.name} deleted from the catalog`);
      return {};
    }, byName),
  };
}

export function networkService(ctx: SchedulerContext): NetworkServiceServer {
  const unary = guardedUnary(ctx);
  return {
    createNetwork: unary(FLEET, async (req) => {
      if (!req.network) throw new ValidationError("network", "is required");
      const type = networkTypeName(req.network.type);
      // A bridge's name is a kernel interface name (the agent attaches to the device of that name).
      const name = type === "bridge" ? validateBridgeName("network.name", req.network.name) : validateNetworkName("network.name", req.network.name);
      const description = req.network.description;
      if (description.length > 256) throw new ValidationError("network.description", `must be at most 256 characters, got ${description.length}`);
      if (CONTROL.test(description)) throw new ValidationError("network.description", "must not contain control characters");
      const created = await insertNetwork(ctx.sql, { name, description, type });
      if (!created) throw new AlreadyExistsError("network", name);
      ctx.log(`network ${name} registered (${type === "bridge" ? "Linux bridge" : "libvirt network"})`);
      return { network: networkToProto(created) };
    }, (req) => req.network?.name ?? ""),
    listNetworks: unary(READ, async () => ({ networks: (await listNetworks(ctx.sql)).map(networkToProto) })),
    deleteNetwork: unary(FLEET, async (req) => {
      const result = await deleteNetwork(ctx.sql, validateNetworkName("name", req.name));
      if (result === "missing") throw new NotFoundError("network", req.name);
      if (result === "in-use") throw new WrongStateError(`network ${req.name} is used by VMs that are not DELETED; delete them first`);
      return {};
    }, byName),
  };
}
