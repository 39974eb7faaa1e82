import { createRequire } from "node:module";
import { credentials, loadPackageDefinition, type GrpcObject, type ServiceClientConstructor } from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";

const require = createRequire(import.meta.url);

/** A grpc.health.v1.Health client: check(service) is the status ("SERVING", "NOT_SERVING", ...). */
export function healthClient(address: string) {
  const pkg = loadPackageDefinition(
    loadSync(require.resolve("grpc-health-check/proto/health/v1/health.proto"), { keepCase: true, defaults: true, enums: String }),
  );
  const Health = ((pkg.grpc as GrpcObject).health as GrpcObject).v1 as GrpcObject;
  const client = new (Health.Health as ServiceClientConstructor)(address, credentials.createInsecure()) as unknown as {
    check(req: { service: string }, options: { deadline: number }, cb: (err: Error | null, r: { status: string }) => void): void;
    close(): void;
  };
  return {
    check: (service = "") =>
      new Promise<string>((resolve, reject) =>
        client.check({ service }, { deadline: Date.now() + 2000 }, (err, r) => (err ? reject(err) : resolve(r.status))),
      ),
    close: () => client.close(),
  };
}
