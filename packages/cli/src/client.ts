// gRPC clients for the scheduler, and a promise wrapper for unary calls.
import * as grpc from "@grpc/grpc-js";
import {
  AccessServiceClient,
  CapacityServiceClient,
  ImageServiceClient,
  NetworkServiceClient,
  NodeServiceClient,
  ProjectServiceClient,
  VmServiceClient,
} from "@drover/proto";

export interface Clients {
  addr: string;
  vm: VmServiceClient;
  node: NodeServiceClient;
  capacity: CapacityServiceClient;
  image: ImageServiceClient;
  network: NetworkServiceClient;
  access: AccessServiceClient;
  project: ProjectServiceClient;
  close(): void;
}

/** How to reach the scheduler: TLS verified against the cluster CA, or plaintext when DROVER_INSECURE=1. */
export type Transport = { kind: "tls"; caPem: Buffer | undefined; token?: string | undefined } | { kind: "insecure" };

/** TLS verifying the cluster CA, with the API token (if any) as `authorization: Bearer` on every call. */
function tlsCredentials(transport: { caPem: Buffer | undefined; token?: string | undefined }): grpc.ChannelCredentials {
  const ssl = grpc.credentials.createSsl(transport.caPem ?? null);
  const token = transport.token;
  if (!token) return ssl;
  const bearer = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
    const md = new grpc.Metadata();
    md.set("authorization", `Bearer ${token}`);
    callback(null, md);
  });
  return grpc.credentials.combineChannelCredentials(ssl, bearer);
}

/** Clients for the scheduler's public services at `addr` (host:port). */
export function createClients(addr: string, transport: Transport = { kind: "insecure" }): Clients {
  const creds = transport.kind === "insecure" ? grpc.credentials.createInsecure() : tlsCredentials(transport);
  const vm = new VmServiceClient(addr, creds);
  const node = new NodeServiceClient(addr, creds);
  const capacity = new CapacityServiceClient(addr, creds);
  const image = new ImageServiceClient(addr, creds);
  const network = new NetworkServiceClient(addr, creds);
  const access = new AccessServiceClient(addr, creds);
  const project = new ProjectServiceClient(addr, creds);
  return {
    addr,
    vm,
    node,
    capacity,
    image,
    network,
    access,
    project,
    close() {
      access.close();
      project.close();
      image.close();
      network.close();
      vm.close();
      node.close();
      capacity.close();
    },
  };
}

/** The (request, metadata, options, callback) overload every generated unary method has. */
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

export interface CallSettings {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/**
 * Calls a unary method with a deadline and returns the response; rejects with the
 * grpc ServiceError. Pass the method bound to its client: `unary(c.vm.getVm.bind(c.vm), req, s)`.
 */
export function unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, settings: CallSettings): Promise<Res> {
  return new Promise<Res>((resolve, reject) => {
    const deadline = new Date(Date.now() + settings.timeoutMs);
    const onAbort = () => call.cancel();
    const call = method(request, new grpc.Metadata(), { deadline }, (err, res) => {
      settings.signal?.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve(res);
    });
    if (settings.signal?.aborted) call.cancel();
    else settings.signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** True for errors that came from a gRPC call (they carry a numeric status code). */
export function isServiceError(e: unknown): e is grpc.ServiceError {
  return e instanceof Error && typeof (e as Partial<grpc.ServiceError>).code === "number" && "details" in e;
}

/** "RESOURCE_EXHAUSTED" for 8, and so on. */
export function statusName(code: number): string {
  return (grpc.status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;
}
