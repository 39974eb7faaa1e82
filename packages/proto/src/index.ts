// The wire contract, generated from proto/drover/v1 by ts-proto (npm run generate).
import { fileURLToPath } from "node:url";

export * from "./gen/drover/v1/common.js";
export * from "./gen/drover/v1/vm.js";
export * from "./gen/drover/v1/node.js";
export * from "./gen/drover/v1/capacity.js";
export * from "./gen/drover/v1/registry.js";
export * from "./gen/drover/v1/agent.js";
export { Timestamp } from "./gen/google/protobuf/timestamp.js";
export * from "./gen/drover/v1/catalog.js";
export * from "./gen/drover/v1/access.js";
export * from "./gen/drover/v1/project.js";

/** Binary FileDescriptorSet of proto/ (buf build), for gRPC server reflection. */
export const descriptorSetPath = fileURLToPath(new URL("../descriptor.binpb", import.meta.url));

// Hand-written: the unary adapter both servers use (see rpc/unary.ts for why it lives here).
export * from "./rpc/unary.js";
export { newErrorId } from "./rpc/error-id.js";
export { imageFormatName } from "./image-format.js";
export { QUIET_STREAM_MS } from "./heartbeat-stream.js";
