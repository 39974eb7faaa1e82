// gRPC server reflection (grpc.reflection.v1 and v1alpha, the same protocol
// under two names) answering with the real files of descriptor.binpb and their
// imports. @grpc/reflection re-derives files through protobufjs instead: it
// loses file boundaries and imports and marks plain messages map_entry, so
// descriptor pools (grpcurl describe, protoc-based tools) reject its answers.
// Only the .proto files of @grpc/reflection are used, for the wire messages.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { loadPackageDefinition, status, type GrpcObject, type Server, type ServerDuplexStream, type ServiceClientConstructor } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { descriptorSetPath } from "@drover/proto";
import { DescriptorIndex } from "./descriptor-index.js";

/** ServerReflectionRequest as proto-loader decodes it (keepCase, oneofs). */
export interface ReflectionRequest {
  host?: string;
  message_request?: "file_by_filename" | "file_containing_symbol" | "file_containing_extension" | "all_extension_numbers_of_type" | "list_services";
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type?: string; extension_number?: number };
  all_extension_numbers_of_type?: string;
  list_services?: string;
}

type Answer =
  | { file_descriptor_response: { file_descriptor_proto: Uint8Array[] } }
  | { all_extension_numbers_response: { base_type_name: string; extension_number: number[] } }
  | { list_services_response: { service: { name: string }[] } }
  | { error_response: { error_code: number; error_message: string } };

export type ReflectionResponse = { valid_host: string; original_request: ReflectionRequest } & Answer;

const VERSIONS = ["v1", "v1alpha"] as const;

/**
 * Adds both reflection services to `server`. `services` are the services the
 * server implements: the only ones listed, though every file of the set can be
 * fetched (the agent's service shares files with them).
 */
export function addReflection(server: Server, services: readonly string[], descriptorSet: Uint8Array = readFileSync(descriptorSetPath)): void {
  const index = new DescriptorIndex(descriptorSet);
  const unknown = services.filter((s) => !index.services.includes(s));
  if (unknown.length) throw new Error(`reflection: ${unknown.join(", ")} not in the descriptor set; run npm run generate`);
  const require = createRequire(import.meta.url);
  for (const version of VERSIONS) {
    const file = require.resolve(`@grpc/reflection/build/proto/grpc/reflection/${version}/reflection.proto`);
    const pkg = loadPackageDefinition(loadSync(file, { keepCase: true, oneofs: true }));
    const ctor = (((pkg.grpc as GrpcObject).reflection as GrpcObject)[version] as GrpcObject).ServerReflection as ServiceClientConstructor;
    server.addService(ctor.service, {
      ServerReflectionInfo(call: ServerDuplexStream<ReflectionRequest, ReflectionResponse>) {
        call.on("data", (req: ReflectionRequest) => call.write(respond(index, services, req)));
        call.on("end", () => call.end());
      },
    });
  }
}

/** The answer to one request of the stream; a failed lookup is an error_response, not a broken stream. */
export function respond(index: DescriptorIndex, services: readonly string[], req: ReflectionRequest): ReflectionResponse {
  return { valid_host: req.host ?? "", original_request: req, ...answer(index, services, req) };
}

function answer(index: DescriptorIndex, services: readonly string[], req: ReflectionRequest): Answer {
  const files = (name: string | undefined, notFound: string): Answer =>
    name ? { file_descriptor_response: { file_descriptor_proto: index.withImports(name) } } : error(status.NOT_FOUND, notFound);
  switch (req.message_request) {
    case "list_services":
      return { list_services_response: { service: services.map((name) => ({ name })) } };
    case "file_by_filename": {
      const name = req.file_by_filename ?? "";
      return files(index.hasFile(name) ? name : undefined, `file ${JSON.stringify(name)} not found (names look like drover/v1/vm.proto)`);
    }
    case "file_containing_symbol": {
      const symbol = req.file_containing_symbol ?? "";
      return files(index.fileOfSymbol(symbol), `symbol ${JSON.stringify(symbol)} not found (give a fully-qualified name, e.g. drover.v1.VmService)`);
    }
    case "file_containing_extension": {
      const { containing_type: type = "", extension_number: n = 0 } = req.file_containing_extension ?? {};
      return files(index.fileOfExtension(type, n), `no extension ${n} of ${JSON.stringify(type)}`);
    }
    case "all_extension_numbers_of_type": {
      const type = req.all_extension_numbers_of_type ?? "";
      const numbers = index.extensionNumbers(type);
      if (!numbers) return error(status.NOT_FOUND, `message type ${JSON.stringify(type)} not found`);
      return { all_extension_numbers_response: { base_type_name: type, extension_number: numbers } };
    }
    case undefined:
      return error(status.INVALID_ARGUMENT, "the request sets none of file_by_filename, file_containing_symbol, file_containing_extension, all_extension_numbers_of_type, list_services");
  }
}

const error = (code: status, message: string): Answer => ({ error_response: { error_code: code, error_message: message } });
