// A gRPC server reflection client that does what grpcurl and protoc-based tools
// do: ask over grpc.reflection.v1 (or v1alpha) ServerReflectionInfo and build a
// strict descriptor registry from the FileDescriptorProtos the server returns.
import { createRequire } from "node:module";
import { credentials, loadPackageDefinition, type ClientDuplexStream, type GrpcObject, type ServiceClientConstructor } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { createFileRegistry, fromBinary, type FileRegistry } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, type FileDescriptorProto } from "@bufbuild/protobuf/wkt";

const require = createRequire(import.meta.url);

export type ReflectionVersion = "v1" | "v1alpha";

export interface ReflectionRequest {
  file_by_filename?: string;
  file_containing_symbol?: string;
  file_containing_extension?: { containing_type: string; extension_number: number };
  all_extension_numbers_of_type?: string;
  list_services?: string;
}

export interface ReflectionResponse {
  message_response: "file_descriptor_response" | "all_extension_numbers_response" | "list_services_response" | "error_response";
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  all_extension_numbers_response?: { base_type_name: string; extension_number: number[] };
  list_services_response?: { service: { name: string }[] };
  error_response?: { error_code: number; error_message: string };
}

export class ReflectionClient {
  private readonly client: { serverReflectionInfo(): ClientDuplexStream<ReflectionRequest, ReflectionResponse>; close(): void };

  constructor(address: string, version: ReflectionVersion) {
    const file = require.resolve(`@grpc/reflection/build/proto/grpc/reflection/${version}/reflection.proto`);
    const pkg = loadPackageDefinition(loadSync(file, { keepCase: true, oneofs: true, defaults: true }));
    const Service = ((pkg.grpc as GrpcObject).reflection as GrpcObject)[version] as GrpcObject;
    const Ctor = Service.ServerReflection as ServiceClientConstructor;
    this.client = new Ctor(address, credentials.createInsecure()) as unknown as typeof this.client;
  }

  /** Sends the requests on one stream and resolves with one response per request, in order. */
  ask(...requests: ReflectionRequest[]): Promise<ReflectionResponse[]> {
    return new Promise((resolve, reject) => {
      const stream = this.client.serverReflectionInfo();
      const responses: ReflectionResponse[] = [];
      stream.on("data", (res: ReflectionResponse) => {
        responses.push(res);
        if (responses.length === requests.length) stream.end();
      });
      stream.on("end", () => resolve(responses));
      stream.on("error", reject);
      for (const r of requests) stream.write(r);
    });
  }

  /** The FileDescriptorProtos of one answer; throws on an error_response. */
  async files(request: ReflectionRequest): Promise<FileDescriptorProto[]> {
    const [res] = await this.ask(request);
    if (res?.error_response) throw new Error(`reflection error ${res.error_response.error_code}: ${res.error_response.error_message}`);
    return (res?.file_descriptor_response?.file_descriptor_proto ?? []).map((b) => fromBinary(FileDescriptorProtoSchema, b));
  }

  /**
   * A registry for the file that declares `symbol`, resolving every import from
   * what the server sent, as a descriptor pool does: a missing import or an
   * unresolvable type name throws.
   */
  async registryFor(symbol: string): Promise<FileRegistry> {
    const files = await this.files({ file_containing_symbol: symbol });
    const byName = new Map(files.map((f) => [f.name, f]));
    const [first] = files;
    if (!first) throw new Error(`no file for ${symbol}`);
    return createFileRegistry(first, (name) => byName.get(name));
  }

  close(): void {
    this.client.close();
  }
}
