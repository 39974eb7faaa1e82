// CPU per EnsureDomain call on the scheduler's side (AgentClients: its node:http2 client, the
// default, and grpc-js), against a grpc-js agent stand-in in a worker thread (its CPU is not counted): variants alternate,
// round after round, CONCURRENCY calls in flight spread over NODES channels.
// With --secure, mTLS as deployed: a scheduler identity from a fresh CA, and one stand-in server per
// node serving that node's own certificate (the benchmark-only grpc-lite variant is left out).
//   node --import tsx benchmarks/agent-client-cost.ts [--calls=4000] [--concurrency=64] [--nodes=64] [--rounds=3] [--secure]
import { readFileSync } from "node:fs";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { createCertificateAuthority, createKeyAndCsr, issueNodeCertificate } from "@drover/pki";
import { AgentServiceService, DomainState, DomainStatus, type EnsureDomainRequest } from "@drover/proto";
import { AgentClients } from "../packages/scheduler/src/dispatch/agent-clients.js";
import { SchedulerIdentity } from "../packages/scheduler/src/tls/scheduler-identity.js";
import { vmSpec } from "../test/support/requests.js";
import { median, table } from "./common.js";
import { LiteClient } from "./grpc-lite.js";
import { numberFlag } from "./flags.js";

/** CPU time of this (the main) thread, from /proc: the agent stand-in runs on another. */
function threadCpuMs(): number {
  const [run] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ");
  return Number(run) / 1e6;
}

/** What the stand-in serves: plaintext on one port, or each node's certificate on a port of its own. */
interface StandInData {
  tls?: { caPem: string; hosts: { keyPem: string; certificatePem: string }[] };
}

async function agentStandIn(): Promise<void> {
  const { tls } = workerData as StandInData;
  const serve = async (creds: ServerCredentials) => {
    const server = new Server();
    server.addService(AgentServiceService, {
      ensureDomain: (call: { request: EnsureDomainRequest }, cb: (e: null, r: object) => void) =>
        cb(null, { domain: DomainStatus.fromPartial({ vmId: call.request.vmId, state: DomainState.DOMAIN_STATE_RUNNING, generation: 1 }) }),
    });
    return new Promise<number>((ok, fail) => server.bindAsync("127.0.0.1:0", creds, (e, p) => (e ? fail(e) : ok(p))));
  };
  const ports = tls
    ? await Promise.all(tls.hosts.map((h) => serve(ServerCredentials.createSsl(Buffer.from(tls.caPem), [{ private_key: Buffer.from(h.keyPem), cert_chain: Buffer.from(h.certificatePem) }], true))))
    : [await serve(ServerCredentials.createInsecure())];
  parentPort!.postMessage(ports);
}

/** A CA, the scheduler's identity from it, and a certificate for each node host-0 … host-(n-1). */
async function certificates(nodes: number): Promise<{ identity: SchedulerIdentity; data: StandInData }> {
  const ca = await createCertificateAuthority();
  const identity = await SchedulerIdentity.start(ca, { hosts: ["127.0.0.1"], lifetimeMs: 3_600_000, log: () => {} });
  const hosts = await Promise.all(
    Array.from({ length: nodes }, async (_, i) => {
      const { keyPem, csrPem } = await createKeyAndCsr(`host-${i}`);
      return { keyPem, certificatePem: (await issueNodeCertificate(ca, csrPem, `host-${i}`, 3_600_000)).certificatePem };
    }),
  );
  return { identity, data: { tls: { caPem: ca.certificatePem, hosts } } };
}

async function main(): Promise<void> {
  const calls = numberFlag("calls", 4000, { positive: true });
  const concurrency = numberFlag("concurrency", 64, { positive: true });
  const nodes = numberFlag("nodes", 64, { positive: true });
  const rounds = numberFlag("rounds", 3, { positive: true });
  // Node 20 does not apply --import to workers: the worker registers tsx itself, then loads this file.
  const boot = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const secure = process.argv.includes("--secure") ? await certificates(nodes) : undefined;
  const worker = new Worker(boot, { eval: true, workerData: secure?.data ?? {} });
  const ports = await new Promise<number[]>((ok) => worker.once("message", ok));
  const addressOf = (node: number) => `127.0.0.1:${ports[node % ports.length]}`;
  const spec = vmSpec("vm", 1, 1024);
  const variants: Record<string, AgentClients> = {
    "AgentClients, node:http2 (default)": new AgentClients(30_000, secure?.identity),
    "AgentClients, grpc-js": new AgentClients(30_000, secure?.identity, { unary: "grpc-js" }),
  };
  // For scale, not for the scheduler: node:http2 alone with gRPC's framing (benchmarks/grpc-lite.ts), one session per node.
  const lite = secure ? [] : Array.from({ length: nodes }, (_, i) => new LiteClient(addressOf(i)));
  const liteCalls = { ensureDomain: async (t: { name: string }, req: EnsureDomainRequest) => (await lite[Number(t.name.slice(5))]!.unary(AgentServiceService.ensureDomain, req, 30_000)).domain };
  const all: Record<string, Pick<AgentClients, "ensureDomain">> = secure ? variants : { ...variants, "grpc-lite (benchmark only)": liteCalls };
  const results: Record<string, number[]> = Object.fromEntries(Object.keys(all).map((k) => [k, []]));
  const run = async (clients: Pick<AgentClients, "ensureDomain">) => {
    let next = 0;
    const one = async () => {
      while (next < calls) {
        const i = next++;
        await clients.ensureDomain({ name: `host-${i % nodes}`, address: addressOf(i % nodes) }, { vmId: `vm-${i}`, spec });
      }
    };
    await Promise.all(Array.from({ length: concurrency }, one));
  };
  for (const c of Object.values(all)) await run(c); // connect and warm up
  for (let r = 0; r < rounds; r++) {
    for (const [name, c] of r % 2 ? Object.entries(all).reverse() : Object.entries(all)) {
      const c0 = threadCpuMs();
      await run(c);
      results[name]!.push(((threadCpuMs() - c0) * 1000) / calls);
    }
  }
  console.log(table(["variant", "µs CPU per EnsureDomain (median)", "rounds"], Object.entries(results).map(([k, v]) => [k, median(v).toFixed(1), v.map((x) => x.toFixed(1)).join(" / ")])));
  for (const c of Object.values(variants)) c.close();
  for (const c of lite) c.close();
  secure?.identity.stop();
  await worker.terminate();
}

if (isMainThread) await main();
else await agentStandIn();
