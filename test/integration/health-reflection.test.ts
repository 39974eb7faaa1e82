import { createRequire } from "node:module";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { credentials, loadPackageDefinition, status, type GrpcObject, type ServiceClientConstructor } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { startTestCluster, type TestCluster } from "../support/cluster.js";
import { ReflectionClient } from "../support/reflection-client.js";

const require = createRequire(import.meta.url);
const load = (file: string) => loadPackageDefinition(loadSync(file, { keepCase: true, defaults: true, enums: String }));
const service = (pkg: GrpcObject, path: string) =>
  path.split(".").reduce<unknown>((o, k) => (o as GrpcObject)[k], pkg) as ServiceClientConstructor;

const SCHEDULER_SERVICES = ["drover.v1.VmService", "drover.v1.NodeService", "drover.v1.CapacityService", "drover.v1.NodeRegistryService"];

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

  // What grpcurl describe and protoc-based DescriptorPools do with the answers:
  // the files must be the real ones, with their imports, and must resolve.
  describe.each(["v1", "v1alpha"] as const)("server reflection %s", (version) => {
    let reflection: ReflectionClient;
    beforeAll(() => {
      reflection = new ReflectionClient(cluster.scheduler.address, version);
    });
    afterAll(() => reflection?.close());

    it("lists the services the scheduler serves, and only those", async () => {
      const [res] = await reflection.ask({ list_services: "*" });
      const names = res?.list_services_response?.service.map((s) => s.name) ?? [];
      expect(names).toEqual(expect.arrayContaining(SCHEDULER_SERVICES));
      expect(names).not.toContain("drover.v1.AgentService");
    });

    it("answers each listed service with a file set that resolves in a strict registry", async () => {
      for (const name of SCHEDULER_SERVICES) {
        const registry = await reflection.registryFor(name);
        const svc = registry.getService(name);
        expect(svc?.typeName).toBe(name);
        for (const m of svc?.methods ?? []) expect(m.input.typeName && m.output.typeName).toMatch(/^drover\.v1\./);
      }
    });

    it("returns drover.v1.Vm with google.protobuf.Timestamp resolved from its real import", async () => {
      const files = await reflection.files({ file_containing_symbol: "drover.v1.Vm" });
      expect(files.map((f) => f.name)).toEqual(["drover/v1/common.proto", "google/protobuf/timestamp.proto"]);
      expect(files[0]?.dependency).toEqual(["google/protobuf/timestamp.proto"]);
      const vm = (await reflection.registryFor("drover.v1.Vm")).getMessage("drover.v1.Vm");
      for (const field of ["created_at", "updated_at"]) {
        const f = vm?.fields.find((x) => x.name === field);
        expect(f?.message?.typeName, field).toBe("google.protobuf.Timestamp");
      }
    });

    it("finds a method's file, and files by name, with their imports", async () => {
      const byMethod = await reflection.files({ file_containing_symbol: "drover.v1.VmService.CreateVms" });
      expect(byMethod.map((f) => f.name)).toEqual(["drover/v1/vm.proto", "drover/v1/common.proto", "google/protobuf/timestamp.proto"]);
      const common = await reflection.files({ file_by_filename: "drover/v1/common.proto" });
      expect(common[0]?.name).toBe("drover/v1/common.proto");
      expect(common[0]?.messageType.map((m) => m.name)).toEqual(expect.arrayContaining(["VmSpec", "Vm", "Node"]));
      const timestamp = await reflection.files({ file_by_filename: "google/protobuf/timestamp.proto" });
      expect(timestamp.map((f) => f.name)).toEqual(["google/protobuf/timestamp.proto"]);
      // Plain FileDescriptorProtos: no fields of buf's image format (field 8042) ride along.
      for (const f of byMethod) expect(f.$unknown, f.name).toBeUndefined();
    });

    it("marks map_entry only on the synthetic entries of map fields", async () => {
      const common = await reflection.files({ file_by_filename: "drover/v1/common.proto" });
      const messages = common[0]?.messageType ?? [];
      for (const name of ["VmSpec", "Node", "Vm"]) {
        expect(messages.find((m) => m.name === name)?.options?.mapEntry ?? false, name).toBe(false);
      }
      const labels = messages.find((m) => m.name === "VmSpec")?.nestedType.find((m) => m.name === "LabelsEntry");
      expect(labels?.options?.mapEntry).toBe(true);
    });

    it("answers unknown symbols and files with NOT_FOUND naming them, on the same stream", async () => {
      const answers = await reflection.ask({ file_containing_symbol: "drover.v1.Nope" }, { file_by_filename: "drover/v1/nope.proto" }, { list_services: "*" });
      expect(answers.map((a) => a.error_response?.error_code)).toEqual([status.NOT_FOUND, status.NOT_FOUND, undefined]);
      expect(answers[0]?.error_response?.error_message).toContain("drover.v1.Nope");
      expect(answers[1]?.error_response?.error_message).toContain("drover/v1/nope.proto");
    });
  });
});
