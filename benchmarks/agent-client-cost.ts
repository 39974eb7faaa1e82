// CPU per EnsureDomain call on the scheduler's side (AgentClients: its node:http2 client, the
// default, and grpc-js), against a grpc-js agent stand-in in a worker thread (its CPU is not counted): variants alternate,
// round after round, CONCURRENCY calls in flight spread over NODES channels.
//   node --import tsx benchmarks/agent-client-cost.ts [--calls=4000] [--concurrency=64] [--nodes=64] [--rounds=3]
import { readFileSync } from "node:fs";
import { isMainThread, parentPort, Worker } from "node:worker_threads";
import { Server, ServerCredentials } from "@grpc/grpc-js";
import { AgentServiceService, DomainState, DomainStatus, type EnsureDomainRequest } from "@drover/proto";
import { AgentClients } from "../packages/scheduler/src/dispatch/agent-clients.js";
import { vmSpec } from "../test/support/requests.js";
import { median, table } from "./common.js";
import { LiteClient } from "./grpc-lite.js";
import { numberFlag } from "./flags.js";

/** CPU time of this (the main) thread, from /proc: the agent stand-in runs on another. */
function threadCpuMs(): number {
  const [run] = readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ");
  return Number(run) / 1e6;
}

async function agentStandIn(): Promise<void> {
  const server = new Server();
  server.addService(AgentServiceService, {
    ensureDomain: (call: { request: EnsureDomainRequest }, cb: (e: null, r: object) => void) =>
      cb(null, { domain: DomainStatus.fromPartial({ vmId: call.request.vmId, state: DomainState.DOMAIN_STATE_RUNNING, generation: 1 }) }),
  });
  const port = await new Promise<number>((ok, fail) => server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? fail(e) : ok(p))));
  parentPort!.postMessage(port);
}

async function main(): Promise<void> {
  const calls = numberFlag("calls", 4000, { positive: true });
  const concurrency = numberFlag("concurrency", 64, { positive: true });
  const nodes = numberFlag("nodes", 64, { positive: true });
  const rounds = numberFlag("rounds", 3, { positive: true });
  // Node 20 does not apply --import to workers: the worker registers tsx itself, then loads this file.
  const boot = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
  const worker = new Worker(boot, { eval: true });
  const port = await new Promise<number>((ok) => worker.once("message", ok));
  const address = `127.0.0.1:${port}`;
  const spec = vmSpec("vm", 1, 1024);
  const variants: Record<string, AgentClients> = {
    "AgentClients, node:http2 (default)": new AgentClients(30_000),
    "AgentClients, grpc-js": new AgentClients(30_000, undefined, { unary: "grpc-js" }),
  };
  // For scale, not for the scheduler: node:http2 alone with gRPC's framing (benchmarks/grpc-lite.ts), one session per node.
  const lite = Array.from({ length: nodes }, () => new LiteClient(address));
  const liteCalls = { ensureDomain: async (t: { name: string }, req: EnsureDomainRequest) => (await lite[Number(t.name.slice(5))]!.unary(AgentServiceService.ensureDomain, req, 30_000)).domain };
  const all: Record<string, Pick<AgentClients, "ensureDomain">> = { ...variants, "grpc-lite (benchmark only)": liteCalls };
  const results: Record<string, number[]> = Object.fromEntries(Object.keys(all).map((k) => [k, []]));
  const run = async (clients: Pick<AgentClients, "ensureDomain">) => {
    let next = 0;
    const one = async () => {
      while (next < calls) {
        const i = next++;
        await clients.ensureDomain({ name: `host-${i % nodes}`, address }, { vmId: `vm-${i}`, spec });
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
  await worker.terminate();
}

if (isMainThread) await main();
else await agentStandIn();
