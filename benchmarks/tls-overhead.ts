// What TLS and node identities cost on the API path: the same cluster (a real scheduler on
// real Postgres, 4 agents on libvirt's test driver, NATS off) insecure and secure, runs
// alternating so machine noise hits both, single-VM CreateVms from C concurrent callers.
//
//   node --import tsx benchmarks/tls-overhead.ts [--requests 2000] [--concurrency 16] [--rounds 2]
//
// Not bench:api: its fleet of 1,000 simulated hosts and its http2 load generator speak
// plaintext only. This measures the API's TLS (handshake once per channel, record
// encryption per call) and, through the agents' heartbeats, the node authorizer's lookups.
import { credentials, type ChannelCredentials } from "@grpc/grpc-js";
import { apiClient } from "../test/support/clients.js";
import { startTestCluster } from "../test/support/cluster.js";
import { vmSpec } from "../test/support/requests.js";
import { startSecureCluster } from "../test/support/secure-cluster.js";
import { quantile } from "./common.js";
import { numberFlag } from "./flags.js";

const REQUESTS = numberFlag("requests", 2000);
const CONCURRENCY = numberFlag("concurrency", 16);
const ROUNDS = numberFlag("rounds", 2);
const NODES = ["n1", "n2", "n3", "n4"];
// A loaded machine runs heartbeats late: nodes must not go DOWN mid-run (2 min).
// Room for every VM of a round: 4 nodes × 256 vCPUs × ratio 4.
const HOST = { vcpus: 256, memoryMib: 1 << 20 };

async function load(address: string, creds: ChannelCredentials): Promise<{ perSecond: number; p50: number; p99: number }> {
  const api = apiClient(address, creds);
  await api.listNodes(); // handshake before the clock starts
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next++ < REQUESTS) {
        const t = performance.now();
        await api.createVms({ template: vmSpec("b", 1, 16), count: 1 });
        latencies.push(performance.now() - t);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  api.close();
  latencies.sort((a, b) => a - b);
  return { perSecond: REQUESTS / seconds, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
}

async function insecureRound() {
  const c = await startTestCluster(NODES.map((name) => ({ name, ...HOST })), { natsUrl: "", heartbeatTimeoutMs: 120_000 });
  try {
    return await load(c.scheduler.address, credentials.createInsecure());
  } finally {
    await c.stop();
  }
}

async function secureRound() {
  const c = await startSecureCluster(NODES, { natsUrl: "", heartbeatTimeoutMs: 120_000 }, HOST);
  try {
    return await load(c.scheduler.address, c.serverAuthOnly());
  } finally {
    await c.stop();
  }
}

const rows: string[] = [];
for (let r = 0; r < ROUNDS; r++) {
  for (const [mode, round] of [["insecure", insecureRound], ["tls", secureRound]] as const) {
    const m = await round();
    rows.push(`${mode.padEnd(8)} round ${r + 1}: ${m.perSecond.toFixed(0)} CreateVms/s, p50 ${m.p50.toFixed(1)} ms, p99 ${m.p99.toFixed(1)} ms`);
    console.log(rows.at(-1));
  }
}
