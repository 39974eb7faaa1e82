// What TLS adds to one grpc-js unary call on this machine: a grpc-js server and client in this
// process (both sides of a call, as the scheduler is the server of CreateVms and the client of
// EnsureDomain), plaintext against TLS from a fresh cluster CA, CPU time per call from
// process.cpuUsage, in alternating rounds.
//
//   node --import tsx benchmarks/grpc-tls-call.ts [--calls 20000] [--concurrency 64] [--bytes 1000] [--rounds 4]
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials, Metadata, Server, ServerCredentials, type ServiceError } from "@grpc/grpc-js";
import { createClusterCa, loadClusterCa } from "@drover/scheduler";
import { generateKeyPair, issueSchedulerCertificate, privateKeyToPem } from "@drover/pki";
import { numberFlag } from "./flags.js";

const calls = numberFlag("calls", 20_000);
const concurrency = numberFlag("concurrency", 64);
const bytes = numberFlag("bytes", 1000);
const rounds = numberFlag("rounds", 4);

const ECHO = {
  echo: {
    path: "/bench.Echo/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
};

const dir = mkdtempSync(join(tmpdir(), "drover-grpc-tls-"));
await createClusterCa(join(dir, "ca"));
const ca = await loadClusterCa(join(dir, "ca"));
const keys = await generateKeyPair();
const cert = await issueSchedulerCertificate(ca, keys.publicKey, ["localhost"], 3_600_000);
const caPem = readFileSync(join(dir, "ca", "ca.pem"));
const keyPem = Buffer.from(await privateKeyToPem(keys.privateKey));

async function measure(secure: boolean): Promise<number> {
  const server = new Server();
  const payload = Buffer.alloc(bytes, 7);
  server.addService(ECHO, { echo: (call: { request: Buffer }, cb: (e: null, r: Buffer) => void) => cb(null, payload) });
  const creds = secure ? ServerCredentials.createSsl(caPem, [{ private_key: keyPem, cert_chain: Buffer.from(cert.certificatePem) }], false) : ServerCredentials.createInsecure();
  const port = await new Promise<number>((res, rej) => server.bindAsync("127.0.0.1:0", creds, (e, p) => (e ? rej(e) : res(p))));
  const C = (await import("@grpc/grpc-js")).makeGenericClientConstructor(ECHO, "Echo");
  const client = new C(`127.0.0.1:${port}`, secure ? credentials.createSsl(caPem) : credentials.createInsecure(), secure ? { "grpc.ssl_target_name_override": "localhost" } : {});
  const call = () =>
    new Promise<void>((res, rej) => (client as unknown as { echo: (r: Buffer, m: Metadata, cb: (e: ServiceError | null) => void) => void }).echo(payload, new Metadata(), (e) => (e ? rej(e) : res())));
  for (let i = 0; i < 500; i++) await call(); // connect and warm up
  let next = 0;
  const t0 = process.cpuUsage();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next++ < calls) await call();
  }));
  const used = process.cpuUsage(t0);
  client.close();
  server.forceShutdown();
  return (used.user + used.system) / calls;
}

const results: Record<string, number[]> = { plain: [], tls: [] };
for (let r = 0; r < rounds; r++) {
  for (const secure of r % 2 ? [true, false] : [false, true]) results[secure ? "tls" : "plain"]!.push(await measure(secure));
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log(`${calls} calls, ${concurrency} in flight, ${bytes}-byte request and response; CPU µs per call (client and server):`);
console.log(`plain ${results.plain!.map((x) => x.toFixed(1)).join(" ")} (median ${median(results.plain!).toFixed(1)}); tls ${results.tls!.map((x) => x.toFixed(1)).join(" ")} (median ${median(results.tls!).toFixed(1)})`);
