import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { startTestCluster, type TestCluster } from "../support/cluster.js";

const require = createRequire(import.meta.url);
const load = (file: string) => loadPackageDefinition(loadSync(file, { keepCase: true, defaults: true, enums: String })) as GrpcObject;
const service = (pkg: GrpcObject, path: string) =>
  path.split(".").reduce<unknown>((o, k) => (o as GrpcObject)[k], pkg) as ServiceClientConstructor;

// Non-Node clients and grpcurl-style tools rely on these two standard services.
describe("standard gRPC health and reflection", () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await startTestCluster([]);
  });
  afterAll(() => cluster?.stop());

  it("answers grpc.health.v1.Health/Check with SERVING for the server and each service", async () => {
    const Health = service(load(require.resolve("grpc-health-check/proto/health/v1/health.proto")), "grpc.health.v1.Health");
    const client = new Health(cluster.scheduler.address, credentials.createInsecure()) as unknown as {
      check(req: { service: string }, cb: (err: Error | null, r: { status: string }) => void): void;
      close(): void;
    };
    for (const name of ["", "drover.v1.VmService", "drover.v1.CapacityService"]) {
      const res = await new Promise<{ status: string }>((resolve, reject) =>
        client.check({ service: name }, (err, r) => (err ? reject(err) : resolve(r))),
      );
      expect(res.status).toBe("SERVING");
    }
    client.close();
  });

  it("lists the drover services through server reflection", async () => {
    const file = require.resolve("@grpc/reflection/build/proto/grpc/reflection/v1alpha/reflection.proto");
    const Reflection = service(load(file), "grpc.reflection.v1alpha.ServerReflection");
    const client = new Reflection(cluster.scheduler.address, credentials.createInsecure()) as unknown as {
      serverReflectionInfo(): import("@grpc/grpc-js").ClientDuplexStream<unknown, unknown>;
      close(): void;
    };
    const names = await new Promise<string[]>((resolve, reject) => {
      const stream = client.serverReflectionInfo();
      stream.on("data", (res: { list_services_response?: { service: { name: string }[] } }) => {
        resolve(res.list_services_response?.service.map((s) => s.name) ?? []);
        stream.end();
      });
      stream.on("error", reject);
      stream.write({ list_services: "*" });
    });
    client.close();
    expect(names).toEqual(
      expect.arrayContaining(["drover.v1.VmService", "drover.v1.NodeService", "drover.v1.CapacityService", "drover.v1.NodeRegistryService"]),
    );
  });
});
