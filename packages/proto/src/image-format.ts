import { ImageFormat } from "./gen/drover/v1/catalog.js";

/** qemu-img's name for an image format; undefined for one a file may not be opened as (never probed). */
export function imageFormatName(format: ImageFormat): "qcow2" | "raw" | undefined {
  switch (format) {
    case ImageFormat.IMAGE_FORMAT_QCOW2:
      return "qcow2";
    case ImageFormat.IMAGE_FORMAT_RAW:
      return "raw";
    case ImageFormat.IMAGE_FORMAT_UNSPECIFIED:
    case ImageFormat.UNRECOGNIZED:
      return undefined;
  }
}
