// Heartbeats under a bulk create: one CreateVms of --vms VMs onto --hosts real agents on libvirt's
// test driver, each agent and the scheduler in a process of its own (the built drover-agent and
// drover-scheduler, default timing), real Postgres and NATS. While the VMs are dispatched, the
// heartbeats are watched in Postgres (node_heartbeats.at, the database clock) every 50 ms.
//
//   npx tsc -b && node --import tsx benchmarks/heartbeat-under-bulk.ts [--vms 10000] [--hosts 4]
//        [--time-limit-seconds 900]
//
// "beat gap" is the time between two recorded heartbeats of one node; "late" is the gap minus the
// agent's interval (the agents beat every DROVER_HEARTBEAT_MS = 2000 ms by default), i.e. how much
// later than due a heartbeat landed. A starved agent shows as a long gap, and at 10 s its node DOWN.
// Where the lateness comes from is read from the processes' /metrics at the end: the agents' send
// delay (drover_agent_heartbeat_late_seconds: sent later than one interval after the previous one)
// and call time, and the scheduler's time from a beat's arrival to its record and to its answer
// (drover_heartbeat_duration_seconds); p99 interpolated within the histogram's bucket, as
// Prometheus's histogram_quantile does.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { testHostUri } from "@drover/agent/testing";
import { connect, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { apiClient } from "../test/support/clients.js";
import { freePort } from "../test/support/ports.js";
import { startSchedulerProcess } from "../test/support/scheduler-process.js";
import { vmSpec } from "../test/support/requests.js";
import { quantile } from "./common.js";
import { numberFlag } from "./flags.js";

const NATS_URL = process.env.DROVER_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const AGENT_MAIN = fileURLToPath(new URL("../packages/agent/dist/main.js", import.meta.url));
const AGENT_INTERVAL_MS = 2000;


const VMS = numberFlag("vms", 10_000, { positive: true });
const HOSTS = numberFlag("hosts", 4, { positive: true });
const LIMIT_MS = numberFlag("time-limit-seconds", 900, { positive: true }) * 1000;
// 1 vCPU / 64 MiB each, hosts with 5 % room to spare.
const PER_HOST = Math.ceil((VMS / HOSTS) * 1.05);

function startAgentProcess(name: string, schedulerAddress: string, metrics: string): { child: ChildProcess; output: () => string } {
  let output = "";
  const child = spawn(process.execPath, [AGENT_MAIN], {
    env: {
      ...process.env,
      DROVER_INSECURE: "1",
      DROVER_AGENT_METRICS: metrics,
      DROVER_NODE_NAME: name,
      DROVER_LIBVIRT_URI: testHostUri({ vcpus: PER_HOST, memoryMib: PER_HOST * 64 }),
      DROVER_AGENT_LISTEN: "127.0.0.1:0",
      DROVER_SCHEDULER_ADDR: schedulerAddress,
      DROVER_NODE_DISK_GIB: "1000",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  return { child, output: () => output };
}

interface Watch {
  gaps: number[];
  maxAge: number;
  downSeen: Set<string>;
  stop(): Promise<void>;
}

/** Samples every node's last heartbeat and state every 50 ms. */
function watchHeartbeats(sql: Sql): Watch {
  const last = new Map<string, number>();
  const w: Watch = { gaps: [], maxAge: 0, downSeen: new Set(), stop: async () => {} };
  let running = true;
  const loop = (async () => {
    while (running) {
      const rows = await sql<{ name: string; at_ms: number; age_s: number; state: string }[]>`
        SELECT h.name, extract(epoch FROM h.at) * 1000 AS at_ms, extract(epoch FROM now() - h.at) AS age_s, n.state
        FROM node_heartbeats h JOIN nodes n USING (name)`;
      for (const r of rows) {
        const at = Number(r.at_ms);
        const prev = last.get(r.name);
        if (prev !== undefined && at > prev) w.gaps.push(at - prev);
        last.set(r.name, at);
        w.maxAge = Math.max(w.maxAge, Number(r.age_s) * 1000);
        if (r.state === "DOWN") w.downSeen.add(r.name);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  w.stop = async () => {
    running = false;
    await loop;
  };
  return w;
}

/** One histogram's buckets (cumulative counts by upper bound) summed over the scraped processes. */
async function scrapeHistogram(addresses: string[], name: string, labels = ""): Promise<Map<number, number>> {
  const buckets = new Map<number, number>();
  for (const a of addresses) {
    const text = await (await fetch(`http://${a}/metrics`)).text();
    for (const line of text.split("\n")) {
      if (!line.startsWith(`${name}_bucket{`) || !line.includes(labels)) continue;
      const le = /le="([^"]+)"/.exec(line)![1]!;
      const bound = le === "+Inf" ? Infinity : Number(le);
      buckets.set(bound, (buckets.get(bound) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
    }
  }
  return buckets;
}

/** histogram_quantile: the q-quantile in ms, linear within its bucket. */
function histogramQuantileMs(buckets: Map<number, number>, q: number): number {
  const sorted = [...buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.at(-1)?.[1] ?? 0;
  if (total === 0) return NaN;
  const rank = q * total;
  let prevBound = 0;
  let prevCount = 0;
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      if (bound === Infinity) return prevBound * 1000;
      return (prevBound + ((bound - prevBound) * (rank - prevCount)) / Math.max(1, count - prevCount)) * 1000;
    }
    prevBound = bound;
    prevCount = count;
  }
  return prevBound * 1000;
}

async function countStates(sql: Sql): Promise<Record<string, number>> {
  const rows = await sql<{ state: string; n: number }[]>`SELECT state, count(*)::int AS n FROM vms GROUP BY state`;
  return Object.fromEntries(rows.map((r) => [r.state, r.n]));
}

async function main(): Promise<void> {
  const db = await createTestDatabase();
  const sql = connect(db.url);
  const schedulerMetrics = `127.0.0.1:${await freePort()}`;
  const scheduler = await startSchedulerProcess({ DROVER_DATABASE_URL: db.url, DROVER_NATS_URL: NATS_URL, DROVER_METRICS_LISTEN: schedulerMetrics });
  const agentMetrics = await Promise.all(Array.from({ length: HOSTS }, async () => `127.0.0.1:${await freePort()}`));
  const agents = agentMetrics.map((m, i) => startAgentProcess(`g${i + 1}`, scheduler.address, m));
  const api = apiClient(scheduler.address);
  try {
    const deadline = Date.now() + 60_000;
    while ((await api.listNodes()).length < HOSTS) {
      if (Date.now() > deadline) throw new Error(`agents did not register: ${agents.map((a) => a.output()).join("\n")}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    const watch = watchHeartbeats(sql);
    const started = Date.now();
    const res = await api.createVms({ template: vmSpec("bulk", 1, 64), count: VMS });
    const callMs = Date.now() - started;
    let states: Record<string, number> = {};
    while (Date.now() - started < LIMIT_MS) {
      states = await countStates(sql);
      const settled = (states.RUNNING ?? 0) + (states.FAILED ?? 0) + (states.LOST ?? 0);
      if (settled >= res.vms.length && !states.SCHEDULED && !states.PROVISIONING) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    const settledMs = Date.now() - started;
    // A few more beats after the last VM started: the tail of the work queue shows up here.
    await new Promise((r) => setTimeout(r, 2 * AGENT_INTERVAL_MS));
    await watch.stop();
    states = await countStates(sql);
    const [lost] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE subject = 'drover.vm.lost'`;
    watch.gaps.sort((a, b) => a - b);
    const late = watch.gaps.map((g) => Math.max(0, g - AGENT_INTERVAL_MS));
    const ms = (v: number) => (Number.isNaN(v) ? "-" : `${Math.round(v)}`);
    console.log(`\nheartbeats under one CreateVms of ${VMS} VMs onto ${HOSTS} test-driver hosts (own processes; agent interval ${AGENT_INTERVAL_MS} ms, timeout 10 s)\n`);
    console.log("| VMs | hosts | call s | all settled s | RUNNING | FAILED | LOST now | vm.lost events | nodes DOWN | beats | gap p50 ms | gap p99 ms | gap max ms | late p99 ms | oldest beat ms |");
    console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    console.log(
      `| ${VMS} | ${HOSTS} | ${(callMs / 1000).toFixed(1)} | ${(settledMs / 1000).toFixed(1)} | ${states.RUNNING ?? 0} | ${states.FAILED ?? 0} | ${states.LOST ?? 0} | ` +
        `${lost!.n} | ${watch.downSeen.size} | ${watch.gaps.length} | ${ms(quantile(watch.gaps, 0.5))} | ${ms(quantile(watch.gaps, 0.99))} | ` +
        `${ms(Math.max(0, ...watch.gaps))} | ${ms(quantile(late, 0.99))} | ${ms(watch.maxAge)} |`,
    );
    const p99 = async (addresses: string[], name: string, labels?: string) => ms(histogramQuantileMs(await scrapeHistogram(addresses, name, labels), 0.99));
    console.log("\nwhere the lateness is (p99 ms; from /metrics, interpolated within buckets)\n");
    console.log("| agent: sent late | agent: call | scheduler: arrival to recorded | scheduler: arrival to answer |");
    console.log("|---|---|---|---|");
    console.log(
      `| ${await p99(agentMetrics, "drover_agent_heartbeat_late_seconds")} | ${await p99(agentMetrics, "drover_agent_heartbeat_call_seconds")} | ` +
        `${await p99([schedulerMetrics], "drover_heartbeat_duration_seconds", 'stage="record"')} | ${await p99([schedulerMetrics], "drover_heartbeat_duration_seconds", 'stage="total"')} |`,
    );
    const vmsRunning = (states.RUNNING ?? 0) === VMS;
    console.log(`\ngoal: 0 nodes DOWN ${watch.downSeen.size === 0 ? "yes" : "NO"}; late p99 <= 1000 ms ${!(quantile(late, 0.99) > 1000) ? "yes" : "NO"}; every VM RUNNING ${vmsRunning ? "yes" : "NO"}`);
  } finally {
    api.close();
    for (const a of agents) a.child.kill("SIGTERM");
    await scheduler.stop();
    await sql.end();
    await db.drop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
