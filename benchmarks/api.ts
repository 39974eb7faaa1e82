// API benchmark: a real scheduler (real Postgres, real NATS) driven through its
// gRPC API, with 1,000 hosts simulated AT THE gRPC BOUNDARY by benchmarks/fleet.ts.
//
//   node --import tsx benchmarks/api.ts [--hosts 1000] [--bulk 10000] [--bulk-rounds 3] [--singles 5000]
//        [--concurrency 64] [--single-seconds 20] [--single-rate 0] [--replicas 1|2] [--seed 42]
//        [--candidates 0] [--time-limit-seconds 900] [--profile] [--scheduler-process]
//        [--dead-rows 0] [--indexes-before-018] [--purge]
//        [--secure] [--json FILE]
//        [--group-kind anti|affinity] [--groups 10] [--idle-seconds 0] [--statements]
//
// --profile writes .drover/b-scheduler-*.cpuprofile (and with --idle-seconds .drover/b-idle-*.cpuprofile);
// benchmarks/profile-stages.ts breaks them down by stage, per VM above idle.
//
// Scenarios:
//   a. CreateVms of --bulk VMs (1 vCPU / 1 GiB): wall time of the call, then
//      time until all are RUNNING through the dispatcher (informational); a cold first call,
//      then --bulk-rounds more, each after the one before is RUNNING: the median of those;
//   b. single-VM CreateVms from --concurrency in-flight calls over 4 channels,
//      --singles requests or --single-seconds, whichever ends first; as fast as
//      they answer, or with --single-rate R started on a fixed schedule of R/s;
//      With --group-kind each single names a hard anti-affinity (anti) or affinity group:
//      request i joins group i mod --groups (0: a group of its own), and after the scenario
//      the VM rows are checked for violations; --idle-seconds S first measures S s with no
//      creates, and CPU per VM is also given above that idle rate (the fleet's heartbeats);
//      --statements prints (b)'s Postgres statements per VM (pg_stat_statements: the server must
//      preload it, see statements.ts), and those of the idle time per second;
//   c. with --replicas 2: a second scheduler replica (own worker thread) on the
//      same database; two concurrent CreateVms of bulk/2, one per replica.
// With --scheduler-process the scheduler runs as the built drover-scheduler in
// a process of its own, as deployed, and (b) reports the CPU of all its threads
// (V8's GC and compiler helpers included) instead of its main thread's.
// The load of (b) and the fleet speak gRPC through grpc-lite.ts (node:http2,
// no grpc-js), so that they take less of the 2 cores from the scheduler,
// which keeps its real grpc-js server and clients. Everything listens on and
// talks to 127.0.0.1 only.
// With --secure everything runs as deployed: the scheduler serves TLS from a fresh cluster
// CA and checks tokens; the load presents a member's bearer token over TLS; every fleet host
// joins with a one-time token and speaks mTLS with its own certificate both ways. --json
// writes the figures for benchmarks/api-tls.ts, which alternates plain and secure runs.
import { fork } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { credentials, Metadata, type ChannelCredentials, type ServiceError } from "@grpc/grpc-js";
import {
  CapacityServiceClient,
  CreateVmsResponse,
  NodeServiceClient,
  NodeState,
  VmServiceClient,
  VmServiceService,
  VmSpec,
  VmState,
  type CreateVmsRequest,
  type GetCapacityResponse,
  type Node,
  type PlacementPolicy,
} from "@drover/proto";
import { createClusterCa, createJoinToken, defaultConfig, issueToken, startScheduler, type RunningScheduler, type SchedulerConfig } from "@drover/scheduler";
import { connect, migrate, purgeVms, type Sql } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { freePort } from "../test/support/ports.js";
import { startSchedulerProcess } from "../test/support/scheduler-process.js";
import { waitFor } from "../test/support/wait.js";
import { vmSpec } from "../test/support/requests.js";
import { quantile } from "./common.js";
import { GrpcLiteError, LiteClient } from "./grpc-lite.js";
import { enableStatements, report as statementsReport, settle, snapshot as statementsSnapshot } from "./statements.js";
import { backendsCpuNs, backendsMsSince } from "./backend-cpu.js";
import { flag, numberFlag } from "./flags.js";

const NATS_URL = process.env.DROVER_TEST_NATS_URL ?? "nats://127.0.0.1:4222";
const NOTE = "agents simulated at the gRPC boundary; real Postgres, real NATS";

// ---------------------------------------------------------------- promise clients
type Callback<Res> = (err: ServiceError | null, res: Res) => void;
function unary<Req, Res>(client: object, method: unknown, req: Req, md: Metadata, timeoutMs = 120_000): Promise<Res> {
  return new Promise((resolve, reject) =>
    (method as (req: Req, md: Metadata, o: object, cb: Callback<Res>) => void).call(
      client,
      req,
      md,
      { deadline: new Date(Date.now() + timeoutMs) },
      (err, res) => (err ? reject(err) : resolve(res)),
    ),
  );
}

/** How the benchmark's own clients reach the scheduler: plaintext, or TLS with a token. */
interface ClientAuth {
  creds: ChannelCredentials;
  token?: string;
}

const CHANNEL_OPTIONS = { "grpc.max_receive_message_length": -1, "grpc.use_local_subchannel_pool": 1 };

function api(address: string, channel = 0, auth: ClientAuth = { creds: credentials.createInsecure() }) {
  const creds = auth.creds;
  const md = new Metadata();
  if (auth.token) md.set("authorization", `Bearer ${auth.token}`);
  const opts = { ...CHANNEL_OPTIONS, "bench.channel": channel };
  const vms = new VmServiceClient(address, creds, opts);
  const nodes = new NodeServiceClient(address, creds, opts);
  const capacity = new CapacityServiceClient(address, creds, opts);
  return {
    createVms: (req: Partial<CreateVmsRequest>, timeoutMs?: number): Promise<CreateVmsResponse> =>
      unary(vms, vms.createVms, { count: 0, minCount: 0, idempotencyKey: "", groups: [], dryRun: false, project: "", ...req }, md, timeoutMs),
    listNodes: async (): Promise<Node[]> =>
      (await unary<{ state: number; pageSize: number; pageToken: string }, { nodes: Node[] }>(nodes, nodes.listNodes, { state: 0, pageSize: 0, pageToken: "" }, md)).nodes,
    getCapacity: (): Promise<GetCapacityResponse> => unary(capacity, capacity.getCapacity, { node: "" }, md),
    close() {
      vms.close();
      nodes.close();
      capacity.close();
    },
  };
}
type Api = ReturnType<typeof api>;

const spec = (name: string): VmSpec => vmSpec(name, 1, 1024);

// ---------------------------------------------------------------- load worker (scenario b)
interface LoadResult {
  ok: number;
  errors: Record<string, number>;
  latenciesMs: number[];
  wallMs: number;
  /** The load thread's own CPU use while it ran. */
  cpu: SchedShare;
}

// The load speaks gRPC through grpc-lite.ts, not grpc-js: clients would be on other
// machines, and here every core it saves goes to the scheduler under test.
interface LoadOptions {
  address: string;
  requests: number;
  seconds: number;
  concurrency: number;
  rate: number;
  channels: number;
  tag: string;
  group?: GroupLoad;
  /** Secure mode: the CA to verify the scheduler with, and the member's token each call presents. */
  caPem?: string;
  token?: string;
}

/** Singles that name a hard (anti-)affinity group: request i joins group i mod `groups` (0: its own). */
interface GroupLoad {
  kind: "anti" | "affinity";
  groups: number;
}

function groupPolicy(g: GroupLoad, i: number, tag: string): PlacementPolicy {
  const name = `${tag}-${g.kind}-${g.groups > 0 ? i % g.groups : i}`;
  return {
    strategy: 0,
    constraints: [],
    preferences: [],
    antiAffinityGroup: g.kind === "anti" ? name : "",
    affinityGroup: g.kind === "affinity" ? name : "",
    softAntiAffinityGroup: "",
  };
}

async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const clients = Array.from({ length: o.channels }, () => new LiteClient(o.address, o.caPem ? { ca: o.caPem } : undefined, o.token));
  const request = (name: string, i: number): CreateVmsRequest => ({
    template: spec(name),
    count: 1,
    minCount: 0,
    idempotencyKey: "",
    groups: [],
    dryRun: false,
    project: "",
    ...(o.group ? { policy: groupPolicy(o.group, i, o.tag) } : {}),
  });
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  let next = 0;
  let ok = 0;
  const started = performance.now();
  const cpu0 = threadSched("thread-self");
  const until = started + o.seconds * 1000;
  const loop = async (w: number) => {
    const c = clients[w % clients.length]!;
    for (;;) {
      if (next >= o.requests || performance.now() > until) return;
      const i = next++;
      // With a target rate, request i is due at a fixed time and its latency counts from then, so a
      // slow answer that holds up later requests shows in their latencies too (no coordinated
      // omission, as wrk2 measures).
      const due = o.rate > 0 ? started + (i * 1000) / o.rate : performance.now();
      if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
      const t = o.rate > 0 ? due : performance.now();
      try {
        const res = await c.unary(VmServiceService.createVms, request(`${o.tag}-${i}`, i), 30_000);
        if (res.vms.length !== 1) throw new GrpcLiteError(0, `${res.vms.length} VMs created, not 1 (${res.unplacedReason})`);
        latencies.push(performance.now() - t);
        ok++;
      } catch (err) {
        const e = err as GrpcLiteError;
        const key = `${e.code}: ${(e.details ?? String(err)).slice(0, 80)}`;
        errors[key] = (errors[key] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => loop(w)));
  const wallMs = performance.now() - started;
  const cpu = schedShare(cpu0, threadSched("thread-self"), wallMs);
  for (const c of clients) c.close();
  return { ok, errors, latenciesMs: latencies, wallMs, cpu };
}

// ---------------------------------------------------------------- replica worker (scenario c)
async function runReplica(config: SchedulerConfig): Promise<void> {
  const s = await startScheduler(config, () => {});
  parentPort!.postMessage({ type: "started", address: s.address });
  parentPort!.on("message", async (m: { cmd: string }) => {
    if (m.cmd === "stop") {
      await s.stop();
      parentPort!.postMessage({ type: "stopped" });
      parentPort!.close();
    }
  });
}

// ---------------------------------------------------------------- helpers
interface MessageSource {
  on(event: "message", f: (m: any) => void): unknown;
  on(event: "error", f: (e: Error) => void): unknown;
  on(event: "exit", f: (code: number | null, signal?: string | null) => void): unknown;
}

/**
 * Messages from a worker or a child process, taken by type in any order. A source that exits fails
 * every wait, later ones too: a wait nobody can answer would leave Node nothing to do, and it would
 * end with status 0 and no report (seen twice at 5,000 hosts under load).
 */
function messages(source: MessageSource, what: string) {
  const queue: any[] = [];
  const waiters: ((m: any) => void)[] = [];
  let failed: Error | undefined;
  source.on("message", (m) => {
    const i = waiters.findIndex((w) => (w as any).type === m.type);
    if (i >= 0) waiters.splice(i, 1)[0]!(m);
    else queue.push(m);
  });
  const fail = (e: Error) => {
    failed ??= e;
    for (const w of waiters.splice(0)) (w as any).reject(failed);
  };
  source.on("error", (e) => {
    console.error(`${what} error:`, e);
    fail(e);
  });
  source.on("exit", (code, signal) => fail(new Error(`${what} exited (${signal ? `signal ${signal}` : `code ${code}`}) before it answered`)));
  return (type: string): Promise<any> => {
    const i = queue.findIndex((m) => m.type === type);
    if (i >= 0) return Promise.resolve(queue.splice(i, 1)[0]);
    if (failed) return Promise.reject(failed);
    return new Promise((resolve, reject) => {
      const w = (m: any) => resolve(m);
      (w as any).type = type;
      (w as any).reject = reject;
      waiters.push(w);
    });
  };
}

function startWorker(file: URL, data: unknown): { worker: Worker; next(type: string): Promise<any> } {
  // Node 20 does not apply --import to workers: the worker registers tsx itself, then loads the file.
  const boot = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((m) => { m.register(); return import(${JSON.stringify(file.href)}); })`;
  const worker = new Worker(boot, { eval: true, workerData: data });
  return { worker, next: messages(worker, "worker") };
}

/** The fleet, in a process of its own. */
interface FleetProcess {
  post(m: object): void;
  next(type: string): Promise<any>;
  kill(): void;
}

/**
 * Starts benchmarks/fleet.ts as a child process. Not a worker thread of this process: 5,000 hosts
 * are 15,000 sockets on the fleet's side (a listener and a registry connection per host, and the
 * scheduler's connection to each host's AgentService accepted), and with the scheduler's own
 * 10,000 one process went past the 20,000 open files this machine allows: the scheduler's
 * connections to the hosts failed with EMFILE and the warm-up never ended.
 */
function startFleetProcess(options: object): FleetProcess {
  const child = fork(fileURLToPath(new URL("./fleet.ts", import.meta.url)), [], {
    execArgv: ["--import", "tsx"],
    env: { ...process.env, DROVER_BENCH_FLEET: JSON.stringify(options) },
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  return { post: (m) => child.send(m), next: messages(child, "fleet process"), kill: () => child.kill() };
}

const fmtMs = (ms: number) => (Number.isNaN(ms) ? "–" : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`);
const fmtRate = (n: number) => `${Math.round(n).toLocaleString("en-US")}/s`;

async function scrape(metricsAddress: string): Promise<Record<string, number>> {
  const text = await (await fetch(`http://${metricsAddress}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^(drover_(?:placement_duration_seconds_(?:sum|count)|claim_conflicts_total|dispatches_total\{result="ok"\}|events_published_total))\s+(\S+)/.exec(line);
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}
const delta = (a: Record<string, number>, b: Record<string, number>, k: string) => (b[k] ?? 0) - (a[k] ?? 0);

/** Machine CPU and per-command CPU (jiffies) from /proc: where the cores went during a scenario. */
interface CpuSample {
  total: number;
  idle: number;
  byComm: Map<string, number>;
  selfThreads: Map<string, number>;
}
function procJiffies(path: string): { comm: string; jiffies: number } {
  const s = readFileSync(path, "utf8");
  const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
  return { comm: s.slice(s.indexOf("(") + 1, s.lastIndexOf(")")), jiffies: Number(f[11]) + Number(f[12]) };
}
/** Shares of wall time a thread (or a set of threads) was on a core and runnable-but-waiting for one. */
interface SchedShare {
  onCpu: number;
  waiting: number;
}
/**
 * A thread's time on a CPU and runnable-but-waiting for one (/proc/…/schedstat,
 * ns). The wait shows CPU contention: a thread that waits for a core while
 * requests queue behind it.
 */
function threadSched(task: string): { cpuNs: number; waitNs: number } {
  const [cpuNs, waitNs] = readFileSync(`/proc/${task}/schedstat`, "utf8").split(" ").map(Number);
  return { cpuNs: cpuNs!, waitNs: waitNs! };
}
/** The scheduler under test, in this process or its own; `tasks` are the /proc task dirs its CPU is read from. */
interface SchedulerUnderTest {
  address: string;
  metricsAddress: string;
  /** A connection of the benchmark's own to the scheduler's database. */
  sql: Sql;
  what: string;
  /** Runs on this thread (so --profile can profile it). */
  here: boolean;
  tasks(): string[];
  stop(): Promise<void>;
}
function tasksSched(tasks: string[]): { cpuNs: number; waitNs: number } {
  let cpuNs = 0;
  let waitNs = 0;
  for (const t of tasks) {
    try {
      const s = threadSched(t);
      cpuNs += s.cpuNs;
      waitNs += s.waitNs;
    } catch {
      /* thread gone */
    }
  }
  return { cpuNs, waitNs };
}

function schedShare(a: { cpuNs: number; waitNs: number }, b: { cpuNs: number; waitNs: number }, wallMs: number): SchedShare {
  return { onCpu: (b.cpuNs - a.cpuNs) / 1e6 / wallMs, waiting: (b.waitNs - a.waitNs) / 1e6 / wallMs };
}
const fmtShare = (s: SchedShare) => `${(s.onCpu * 100).toFixed(0)}% on a core, ${(s.waiting * 100).toFixed(0)}% waiting for one`;

function cpuSample(): CpuSample {
  const cpu = readFileSync("/proc/stat", "utf8").split("\n")[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = cpu.reduce((a, b) => a + b, 0);
  const idle = cpu[3]! + cpu[4]!;
  const byComm = new Map<string, number>();
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const s = procJiffies(`/proc/${pid}/stat`);
      const comm = pid === String(process.pid) ? "benchmark (node)" : s.comm;
      byComm.set(comm, (byComm.get(comm) ?? 0) + s.jiffies);
    } catch {
      /* gone */
    }
  }
  // Threads of this process: main (scheduler) vs the load worker vs libuv/V8 helpers (the fleet is a process of its own).
  const selfThreads = new Map<string, number>();
  for (const tid of readdirSync(`/proc/${process.pid}/task`)) {
    try {
      const s = procJiffies(`/proc/${process.pid}/task/${tid}/stat`);
      const name = tid === String(process.pid) ? "main thread (scheduler)" : s.comm;
      selfThreads.set(name, (selfThreads.get(name) ?? 0) + s.jiffies);
    } catch {
      /* gone */
    }
  }
  return { total, idle, byComm, selfThreads };
}

/** Jiffies (10 ms) all processes named `comm` used between two samples. */
function jiffiesOf(a: CpuSample, b: CpuSample, comm: string): number {
  return (b.byComm.get(comm) ?? 0) - (a.byComm.get(comm) ?? 0);
}

function cpuDelta(a: CpuSample, b: CpuSample): string {
  const total = b.total - a.total;
  const busy = total - (b.idle - a.idle);
  const cores = cpus().length;
  const share = (j: number) => (j / total) * cores;
  const top = (x: Map<string, number>, y: Map<string, number>) =>
    [...y.entries()]
      .map(([k, v]) => [k, share(v - (x.get(k) ?? 0))] as const)
      .filter(([, v]) => v >= 0.02)
      .sort((p, q) => q[1] - p[1])
      .slice(0, 6)
      .map(([k, v]) => `${k} ${v.toFixed(2)}`)
      .join(", ");
  return `machine busy ${((busy / total) * 100).toFixed(0)}% of ${cores} cores; cores by process: ${top(a.byComm, b.byComm)}; benchmark threads: ${top(a.selfThreads, b.selfThreads)}`;
}

/**
 * Samples pg_stat_activity of the benchmark database every `everyMs` from a
 * connection of its own: what the scheduler's pooled sessions are doing
 * (running a statement, waiting on a row lock, or idle in a transaction while
 * Node is busy elsewhere).
 */
/**
 * CPU (ns, schedstat) of each Postgres backend serving the benchmark's own database, by pid: the
 * scheduler's sessions and nothing else on a Postgres shared with other work (the "postgres" total
 * counts every database's backends and the server's own processes).
 */
/** Transactions this database's backends have committed (an autocommit statement is one); flushed by them at most once a second. */
async function committedXacts(sql: Sql): Promise<number> {
  const [r] = await sql<{ n: number }[]>`SELECT xact_commit::float8 AS n FROM pg_stat_database WHERE datname = current_database()`;
  return r!.n;
}


function sampleSessions(url: string, everyMs = 50): { stop(): Promise<string> } {
  const sql = connect(url, { max: 1 });
  const counts = new Map<string, number>();
  let samples = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const rows = await sql<{ k: string; n: number }[]>`
        SELECT state || coalesce(' / ' || wait_event_type || ':' || wait_event, '') AS k, count(*)::int AS n
        FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1`;
      samples++;
      for (const r of rows) counts.set(r.k, (counts.get(r.k) ?? 0) + r.n);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop.catch(() => {});
      await sql.end({ timeout: 5 });
      return [...counts.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => `${k} ${(n / samples).toFixed(1)}`)
        .join(", ");
    },
  };
}

// ---------------------------------------------------------------- main
interface Row {
  scenario: string;
  hosts: number;
  vms: number;
  wall: string;
  rate: string;
  p50: string;
  p99: string;
  note: string;
}

async function main(): Promise<void> {
  const hosts = numberFlag("hosts", 1000);
  const bulk = numberFlag("bulk", 10_000);
  const bulkRounds = numberFlag("bulk-rounds", 3);
  const singles = numberFlag("singles", 5000);
  const concurrency = numberFlag("concurrency", 64);
  const singleSeconds = numberFlag("single-seconds", 20);
  const idleSeconds = numberFlag("idle-seconds", 0);
  const singleRate = numberFlag("single-rate", 0);
  const replicas = numberFlag("replicas", 1);
  const seed = numberFlag("seed", 42);
  const hardLimitMs = numberFlag("time-limit-seconds", 900) * 1000;
  // Scheduler setting placementCandidates (DROVER_PLACEMENT_CANDIDATES); 0 = the engine default.
  const candidates = numberFlag("candidates", 0);
  // Dead rows (issue 13): --dead-rows N DELETED VMs in the database before the scenarios; with
  // --indexes-before-018 the vms indexes as they were before migration 018; with --purge VM
  // retention removes them first (as its job does, timed).
  const deadRows = numberFlag("dead-rows", 0);
  const purge = process.argv.includes("--purge");
  const secure = process.argv.includes("--secure");
  const jsonFile = flag("json");
  const figures: Record<string, number | string | boolean> = { secure };
  const groupKind = flag("group-kind");
  if (groupKind !== undefined && groupKind !== "anti" && groupKind !== "affinity") throw new Error(`--group-kind: anti or affinity, not ${groupKind}`);
  const group: GroupLoad | undefined = groupKind ? { kind: groupKind, groups: numberFlag("groups", 10) } : undefined;
  const groupWords = group ? `, each in ${group.kind === "anti" ? "a hard anti-affinity" : "an affinity"} group (${group.groups > 0 ? `${group.groups} groups` : "one group per request"})` : "";

  const rows: Row[] = [];
  const notes: string[] = [];
  const say = (m: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`);

  const db = await createTestDatabase();
  say(`database ${new URL(db.url).pathname.slice(1)} created`);
  // Migrated here, so that tokens exist before the scheduler starts (and both modes start alike).
  const setupSql = connect(db.url, { max: 2 });
  await migrate(setupSql);
  const tlsDir = secure ? mkdtempSync(join(tmpdir(), "drover-bench-tls-")) : "";
  let caPem = "";
  let adminAuth: ClientAuth = { creds: credentials.createInsecure() };
  let memberToken = "";
  let joinTokens: string[] = [];
  if (secure) {
    await createClusterCa(join(tlsDir, "ca"));
    caPem = readFileSync(join(tlsDir, "ca", "ca.pem"), "utf8");
    adminAuth = { creds: credentials.createSsl(Buffer.from(caPem)), token: (await issueToken(setupSql, { role: "admin", project: "default", description: "bench" })).bearer };
    memberToken = (await issueToken(setupSql, { role: "member", project: "default", description: "bench load" })).bearer;
    joinTokens = await Promise.all(Array.from({ length: hosts }, async () => (await createJoinToken(setupSql, { ttlMs: 3_600_000 })).token));
    say(`secure: cluster CA in ${tlsDir}, admin and member tokens, ${hosts} join tokens`);
  }
  await setupSql.end({ timeout: 5 });
  let scheduler: SchedulerUnderTest | undefined;
  let fleet: FleetProcess | undefined;
  let replica: ReturnType<typeof startWorker> | undefined;
  const client = { current: undefined as Api | undefined };

  // Bounded: whatever happens, clean up and exit after the hard limit.
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    client.current?.close();
    if (replica) {
      replica.worker.postMessage({ cmd: "stop" });
      await Promise.race([replica.next("stopped"), new Promise((r) => setTimeout(r, 10_000))]);
      await replica.worker.terminate();
    }
    if (fleet) {
      fleet.post({ cmd: "stop" });
      await Promise.race([fleet.next("stopped"), new Promise((r) => setTimeout(r, 10_000))]);
      fleet.kill();
    }
    // Bounded: dispatches still in flight to the stopped fleet must not hold the run up for minutes.
    const stopping = scheduler?.stop().catch((e) => say(`scheduler stop: ${e}`));
    await Promise.race([stopping, new Promise((r) => setTimeout(r, 15_000).unref())]);
    scheduler = undefined;
  };
  const watchdog = setTimeout(async () => {
    say(`hard time limit of ${hardLimitMs / 1000} s reached; cleaning up`);
    await cleanup().catch(() => {});
    await db.drop().catch(() => {});
    process.exit(2);
  }, hardLimitMs);
  watchdog.unref();

  try {
    let logLines = 0;
    const schedLog = (m: string) => {
      if (/^node host-\d+ (registered|joined)/.test(m)) return;
      if (logLines++ < 30) console.log(`  scheduler: ${m}`);
    };
    const config: SchedulerConfig = {
      ...defaultConfig,
      // Plain: the load clients present no tokens. Secure: TLS, node identities and tokens, as deployed.
      insecure: !secure,
      tlsDir: secure ? join(tlsDir, "ca") : "",
      databaseUrl: db.url,
      natsUrl: NATS_URL,
      listen: "127.0.0.1:0",
      // Bound to 127.0.0.1 only, so the placement histogram can be read.
      metricsListen: "127.0.0.1:0",
      // 1,000 hosts beat every 5 s (200 RPC/s); the timeout keeps the default 5× ratio.
      heartbeatIntervalMs: 5000,
      heartbeatTimeoutMs: 25_000,
      placementCandidates: candidates,
      // Dead rows stay unless --purge: the job would otherwise purge them during the run.
      ...(deadRows > 0 && !purge ? { vmRetentionMs: 0 } : {}),
    };
    scheduler = process.argv.includes("--scheduler-process") ? await schedulerProcess(config, adminAuth) : await schedulerHere(config, schedLog);
    say(`scheduler (${scheduler.what}) at ${scheduler.address}, metrics at ${scheduler.metricsAddress}`);

    fleet = startFleetProcess({ schedulerAddress: scheduler.address, hosts, seed, heartbeatIntervalMs: 5000, ...(secure ? { tls: { caPem, joinTokens } } : {}) });
    const started = await fleet.next("started");
    const regStart = performance.now();
    say(`fleet at ${started.address}: registering ${hosts} hosts`);
    const reg = await Promise.race([fleet.next("registered"), fleet.next("error")]);
    if (reg.type === "error") throw new Error(`fleet registration failed: ${reg.error}`);
    const c = api(scheduler.address, 0, adminAuth);
    client.current = c;
    await waitFor("every host READY", async () => ((await c.listNodes()).filter((n) => n.state === NodeState.NODE_STATE_READY).length === hosts ? true : undefined), 60_000);
    const regMs = performance.now() - regStart;
    const totalCap = (started.hosts as { capacity: { vcpus: number; memoryMib: number } }[]).reduce(
      (a, h) => ({ vcpus: a.vcpus + h.capacity.vcpus, mem: a.mem + h.capacity.memoryMib }),
      { vcpus: 0, mem: 0 },
    );
    say(`${hosts} hosts registered and READY in ${fmtMs(regMs)} (${totalCap.vcpus} cores, ${(totalCap.mem / 1024 / 1024).toFixed(1)} TiB memory)`);
    rows.push({
      scenario: "register hosts (RegisterNode, 16 in flight)",
      hosts,
      vms: 0,
      wall: fmtMs(regMs),
      rate: fmtRate(hosts / (regMs / 1000)),
      p50: "–",
      p99: "–",
      note: NOTE,
    });

    if (deadRows > 0) notes.push(`dead rows: ${await seedDeadRows(scheduler.sql, deadRows, hosts, process.argv.includes("--indexes-before-018"), purge, say)}`);

    // Warm-up: JIT the create path (a few single VMs and a small bulk), and open the scheduler's
    // channel to every host: the bulk is one hard anti-affinity group of a VM per host. A running
    // scheduler holds those connections; their first handshakes (TLS in secure mode) are not per-VM work.
    for (let i = 0; i < 20; i++) await c.createVms({ template: spec(`warm-${i}`), count: 1 });
    const warmBulk = Math.max(100, hosts);
    const onEveryHost: PlacementPolicy = { strategy: 0, constraints: [], preferences: [], antiAffinityGroup: "warm-every-host", affinityGroup: "", softAntiAffinityGroup: "" };
    const warm0 = performance.now();
    await c.createVms({ template: spec("warm-bulk"), count: warmBulk, ...(warmBulk <= hosts ? { policy: onEveryHost } : {}) });
    const warmCreatedMs = performance.now() - warm0;
    const warm = 20 + warmBulk;
    await waitFor("warm-up VMs RUNNING", async () => (runningOf(await c.getCapacity()) >= warm ? true : undefined), 240_000);
    const [reached] = await scheduler.sql<{ nodes: number }[]>`SELECT count(DISTINCT node)::int AS nodes FROM vms WHERE name LIKE 'warm-%'`;
    say(`warm-up done (${warm} VMs created and RUNNING, on ${reached!.nodes} of ${hosts} hosts; the bulk of ${warmBulk} created in ${fmtMs(warmCreatedMs)}, all RUNNING ${fmtMs(performance.now() - warm0)} after it started)`);

    const lag = monitorEventLoopDelay({ resolution: 10 });

    // ---- (a) bulk (--bulk 0 skips it): 1 + --bulk-rounds calls, each waited for until RUNNING before
    // the next. The first runs the chunked commit path cold (V8 compiles it meanwhile, on its
    // compiler threads); the row is the median of the calls after it.
    if (bulk > 0) {
      const calls: { wallMs: number; cpuMs: number; placeMs: number; runMs: number; lagMaxMs: number }[] = [];
      let running = warm;
      for (let round = 0; round <= bulkRounds; round++) {
        const last = round === bulkRounds;
        const m0 = await scrape(scheduler.metricsAddress);
        const cpu0 = cpuSample();
        const sessions = last ? sampleSessions(db.url) : undefined;
        lag.reset();
        lag.enable();
        const bulkCpu0 = tasksSched(scheduler.tasks());
        const t0 = performance.now();
        const res = await c.createVms({ template: spec(`bulk-${round}`), count: bulk }, 300_000);
        const wallMs = performance.now() - t0;
        const cpuMs = (tasksSched(scheduler.tasks()).cpuNs - bulkCpu0.cpuNs) / 1e6;
        lag.disable();
        const cpu1 = cpuSample();
        const m1 = await scrape(scheduler.metricsAddress);
        if (sessions) notes.push(`(a) scheduler's Postgres sessions during the last call, mean count by state / wait event: ${await sessions.stop()}.`);
        if (res.vms.length !== bulk) throw new Error(`bulk: ${res.vms.length} of ${bulk} created (${res.unplacedReason})`);
        const placeMs = delta(m0, m1, "drover_placement_duration_seconds_sum") * 1000;
        const used = new Set(res.vms.map((v) => v.node)).size;
        const cpuA = cpuDelta(cpu0, cpu1);
        say(`(a) call ${round}${round === 0 ? " (cold)" : ""}: CreateVms count=${bulk}: ${fmtMs(wallMs)} → ${fmtRate(bulk / (wallMs / 1000))}; placement engine ${fmtMs(placeMs)}; ${used} nodes used; cpu: ${cpuA}`);
        if (last) {
          const encoded = CreateVmsResponse.encode(res).finish();
          const d0 = performance.now();
          CreateVmsResponse.decode(encoded);
          notes.push(`(a) the client decodes the ${(encoded.length / 1e6).toFixed(1)} MB response in ~${fmtMs(performance.now() - d0)} (re-measured after the last call; that decode is inside the wall time, on the same thread as the scheduler).`);
          notes.push(`(a) cpu during the last call: ${cpuA}; max event-loop delay of the scheduler thread ${(lag.max / 1e6).toFixed(0)} ms.`);
        }
        // Until RUNNING through the dispatcher (informational), before the next call.
        running += bulk;
        const cpu2 = cpuSample();
        let seen = 0;
        try {
          await waitFor(
            "bulk VMs RUNNING",
            async () => {
              seen = runningOf(await c.getCapacity());
              return seen >= running ? true : undefined;
            },
            240_000,
            500,
          );
        } catch {
          throw new Error(`(a) call ${round}: ${seen - (running - bulk)} of ${bulk} VMs RUNNING after 240 s`);
        }
        const runMs = performance.now() - t0;
        if (last) {
          const m2 = await scrape(scheduler.metricsAddress);
          notes.push(`(a) dispatch phase cpu after the last call: ${cpuDelta(cpu2, cpuSample())}; events published to NATS during it and its call: ${delta(m0, m2, "drover_events_published_total")}.`);
        }
        calls.push({ wallMs, cpuMs, placeMs, runMs, lagMaxMs: lag.max / 1e6 });
      }
      const warmCalls = calls.slice(1);
      const mid = <K extends keyof (typeof calls)[number]>(k: K) => quantile(warmCalls.map((x) => x[k]).sort((a, b) => a - b), 0.5);
      const wallMs = mid("wallMs");
      Object.assign(figures, { bulkMs: wallMs, bulkRate: bulk / (wallMs / 1000), bulkCpuPerVmMs: mid("cpuMs") / bulk, bulkColdMs: calls[0]!.wallMs });
      const each = (k: "wallMs" | "runMs") => calls.map((x, i) => `${fmtMs(x[k])}${i === 0 ? " (cold)" : ""}`).join(", ");
      notes.push(`(a) every call's wall time: ${each("wallMs")}; until all RUNNING: ${each("runMs")}.`);
      rows.push({
        scenario: `a. bulk CreateVms (count ${bulk}, 1 vCPU/1 GiB, spread) — call wall time, median of ${warmCalls.length} after a cold first call`,
        hosts,
        vms: bulk,
        wall: fmtMs(wallMs),
        rate: fmtRate(bulk / (wallMs / 1000)),
        p50: "–",
        p99: "–",
        note: `${NOTE}; the cold first call ${fmtMs(calls[0]!.wallMs)}; placement engine ${fmtMs(mid("placeMs"))} of a call; scheduler thread ${fmtMs(mid("cpuMs"))} of CPU a call`,
      });
      const runMs = mid("runMs");
      rows.push({
        scenario: "a. … until all RUNNING (dispatcher, EnsureDomain to the fleet), median",
        hosts,
        vms: bulk,
        wall: fmtMs(runMs),
        rate: fmtRate(bulk / (runMs / 1000)),
        p50: "–",
        p99: "–",
        note: `${NOTE}; informational; default dispatchConcurrency ${config.dispatchConcurrency}, tickMs ${config.tickMs}`,
      });
    }

    const fleetStats = async () => {
      fleet!.post({ cmd: "stats" });
      return (await fleet!.next("stats")).stats as { ensureDomain: number };
    };

    // ---- (b) single-VM creates, concurrent
    {
      // What the scheduler thread and its backends spend with no creates (the fleet's heartbeats:
      // at 5,000 nodes a large share of a slow scenario's CPU), so CPU per VM can be given above it.
      let idle: { schedulerMsPerS: number; backendsMsPerS: number; xactsPerS: number } | undefined;
      const statements = process.argv.includes("--statements") && (await enableStatements(scheduler.sql));
      if (idleSeconds > 0) {
        const st0 = statements ? await statementsSnapshot(scheduler.sql) : undefined;
        // With --profile the idle period is profiled too: its per-second costs by stage are what (b)'s are measured above.
        const idleProfile = process.argv.includes("--profile") && scheduler.here ? await startProfile(() => tasksSched(scheduler!.tasks()).cpuNs) : undefined;
        const s0 = tasksSched(scheduler.tasks());
        const x0 = await committedXacts(scheduler.sql);
        const b0 = await backendsCpuNs(scheduler.sql);
        const t0 = performance.now();
        await new Promise((r) => setTimeout(r, idleSeconds * 1000));
        const secs = (performance.now() - t0) / 1000;
        idle = {
          schedulerMsPerS: (tasksSched(scheduler.tasks()).cpuNs - s0.cpuNs) / 1e6 / secs,
          backendsMsPerS: backendsMsSince(b0, await backendsCpuNs(scheduler.sql)) / secs,
          xactsPerS: ((await committedXacts(scheduler.sql)) - x0) / secs,
        };
        if (idleProfile) say(`(b) CPU profile of the scheduler thread while idle: ${await idleProfile.stop("b-idle")}`);
        say(`(b) idle for ${secs.toFixed(1)} s first: ${scheduler.what} ${idle.schedulerMsPerS.toFixed(1)} ms/s, this database's backends ${idle.backendsMsPerS.toFixed(1)} ms/s, ${idle.xactsPerS.toFixed(0)} transactions/s`);
        if (st0) {
          await settle();
          say(`(b) idle statements, per second (as if per VM at 1 VM/s):\n${statementsReport(st0, await statementsSnapshot(scheduler.sql), secs, 12)}`);
        }
      }
      const ensured0 = (await fleetStats()).ensureDomain;
      const profile = process.argv.includes("--profile") && scheduler.here ? await startProfile(() => tasksSched(scheduler!.tasks()).cpuNs) : undefined;
      const m0 = await scrape(scheduler.metricsAddress);
      const cpu0 = cpuSample();
      const st1 = statements ? await statementsSnapshot(scheduler.sql) : undefined;
      const xacts0 = await committedXacts(scheduler.sql);
      const backends0 = await backendsCpuNs(scheduler.sql);
      const sessions = sampleSessions(db.url);
      lag.reset();
      lag.enable();
      const load = startWorker(new URL(import.meta.url), {
        role: "load",
        options: {
          address: scheduler.address,
          requests: singles,
          seconds: singleSeconds,
          concurrency,
          rate: singleRate,
          channels: 4,
          tag: "single",
          group,
          ...(secure ? { caPem, token: memberToken } : {}),
        } satisfies LoadOptions,
      });
      const main0 = tasksSched(scheduler.tasks());
      const w0 = performance.now();
      const out = (await load.next("result")).result as LoadResult;
      const mainUse = schedShare(main0, tasksSched(scheduler.tasks()), performance.now() - w0);
      if (profile) say(`(b) CPU profile of the scheduler thread: ${await profile.stop("b-scheduler", { vms: out.ok })}`);
      // Dispatch is part of the work: a dispatcher that lags behind would leave CPU for the creates.
      const dispatched = (await fleetStats()).ensureDomain - ensured0;
      await load.worker.terminate();
      lag.disable();
      const cpu1 = cpuSample();
      const ourPgMs = backendsMsSince(backends0, await backendsCpuNs(scheduler.sql));
      const xactsMade = (await committedXacts(scheduler.sql)) - xacts0;
      const xactsPerVm = `${(xactsMade / out.ok).toFixed(2)} transactions committed per VM${idle ? ` (${((xactsMade - (idle.xactsPerS * out.wallMs) / 1000) / out.ok).toFixed(2)} above idle)` : ""}`;
      const m1 = await scrape(scheduler.metricsAddress);
      const sess = await sessions.stop();
      if (st1) {
        await settle();
        say(`(b) Postgres statements per VM created:\n${statementsReport(st1, await statementsSnapshot(scheduler.sql), out.ok)}`);
      }
      const sorted = out.latenciesMs.sort((a, b) => a - b);
      const [spread] = await scheduler.sql<{ nodes: number; top: number }[]>`
        SELECT count(*)::int AS nodes, max(n)::int AS top FROM (SELECT node, count(*) AS n FROM vms WHERE name LIKE 'single-%' GROUP BY node) x`;
      const placeCount = delta(m0, m1, "drover_placement_duration_seconds_count");
      const placeMean = placeCount ? (delta(m0, m1, "drover_placement_duration_seconds_sum") * 1000) / placeCount : NaN;
      const conflicts = delta(m0, m1, "drover_claim_conflicts_total");
      const errs = Object.entries(out.errors).map(([k, v]) => `${v}× ${k}`).join("; ");
      say(`(b) ${out.ok} single creates in ${fmtMs(out.wallMs)} → ${fmtRate(out.ok / (out.wallMs / 1000))}; p50 ${fmtMs(quantile(sorted, 0.5))} p99 ${fmtMs(quantile(sorted, 0.99))} max ${fmtMs(sorted.at(-1) ?? NaN)}; engine ${fmtMs(placeMean)}/call; conflicts ${conflicts}${errs ? `; errors: ${errs}` : ""}`);
      // CPU per VM: what one more VM/s costs, whatever else shares the machine.
      Object.assign(figures, {
        singleRate: out.ok / (out.wallMs / 1000),
        singleP50Ms: quantile(sorted, 0.5),
        singleP99Ms: quantile(sorted, 0.99),
        singleCpuPerVmMs: (mainUse.onCpu * out.wallMs) / out.ok,
        singlePostgresPerVmMs: (jiffiesOf(cpu0, cpu1, "postgres") * 10) / out.ok,
        singleOwnBackendsPerVmMs: ourPgMs / out.ok,
        singleErrors: Object.values(out.errors).reduce((a, b) => a + b, 0),
        singleXactsPerVm: xactsMade / out.ok,
      });
      const overIdle = idle
        ? `; above idle: ${scheduler.what} ${((mainUse.onCpu * out.wallMs - (idle.schedulerMsPerS * out.wallMs) / 1000) / out.ok).toFixed(3)} ms, this database's backends ${((ourPgMs - (idle.backendsMsPerS * out.wallMs) / 1000) / out.ok).toFixed(3)} ms`
        : "";
      if (idle) {
        Object.assign(figures, {
          singleCpuPerVmAboveIdleMs: (mainUse.onCpu * out.wallMs - (idle.schedulerMsPerS * out.wallMs) / 1000) / out.ok,
          singleOwnBackendsPerVmAboveIdleMs: (ourPgMs - (idle.backendsMsPerS * out.wallMs) / 1000) / out.ok,
        });
      }
      const perVm = `${scheduler.what} ${((mainUse.onCpu * out.wallMs) / out.ok).toFixed(3)} ms, Postgres ${((jiffiesOf(cpu0, cpu1, "postgres") * 10) / out.ok).toFixed(3)} ms (this database's backends ${(ourPgMs / out.ok).toFixed(3)} ms), load generator ${((out.cpu.onCpu * out.wallMs) / out.ok).toFixed(3)} ms${overIdle}`;
      const shares = `${scheduler.what} ${fmtShare(mainUse)}; load generator thread ${fmtShare(out.cpu)}`;
      const cpuB = cpuDelta(cpu0, cpu1);
      say(`    ${shares}`);
      say(`    CPU per VM: ${perVm}; EnsureDomain calls during the scenario: ${dispatched} (${out.ok} VMs created); ${xactsPerVm}`);
      say(`    cpu: ${cpuB}; scheduler event-loop delay p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms max ${(lag.max / 1e6).toFixed(0)} ms`);
      rows.push({
        scenario: `b. single-VM CreateVms${groupWords}, ${concurrency} in flight over 4 channels${singleRate > 0 ? `, started at ${singleRate}/s` : ""}`,
        hosts,
        vms: out.ok,
        wall: fmtMs(out.wallMs),
        rate: fmtRate(out.ok / (out.wallMs / 1000)),
        p50: fmtMs(quantile(sorted, 0.5)),
        p99: fmtMs(quantile(sorted, 0.99)),
        note: `${NOTE}; engine ${fmtMs(placeMean)} per call; ${conflicts} claim conflicts; ${dispatched} dispatched to the fleet meanwhile${errs ? `; errors: ${errs}` : ""}`,
      });
      say(`    postgres sessions of the scheduler (mean over samples): ${sess}; single VMs went to ${spread?.nodes} nodes, at most ${spread?.top} on one`);
      notes.push(`(b) scheduler's Postgres sessions, mean count by state / wait event: ${sess}. The ${out.ok} single VMs went to ${spread?.nodes} distinct nodes (at most ${spread?.top} on one node).`);
      notes.push(`(b) ${shares}. CPU per VM created: ${perVm}.`);
      if (group) {
        const v = await groupViolations(scheduler.sql);
        say(`    groups: ${v}`);
        notes.push(`(b) groups, from the VM rows after the scenario: ${v}.`);
      }
      notes.push(`(b) cpu: ${cpuB}; scheduler event-loop delay p50 ${(lag.percentile(50) / 1e6).toFixed(0)} ms, p99 ${(lag.percentile(99) / 1e6).toFixed(0)} ms, max ${(lag.max / 1e6).toFixed(0)} ms.`);
    }

    // ---- (c) two replicas
    if (replicas >= 2) {
      replica = startWorker(new URL(import.meta.url), { role: "replica", config: { ...config, metricsListen: "" } });
      const r2 = (await replica.next("started")).address as string;
      const c2 = api(r2, 9, adminAuth);
      await c2.createVms({ template: spec("warm-r2"), count: 50 });
      const half = Math.floor(bulk / 2);
      const m0 = await scrape(scheduler.metricsAddress);
      const t0 = performance.now();
      const times: number[] = [];
      const [x, y] = await Promise.all(
        [c.createVms({ template: spec("bulk-r1"), count: half }, 300_000), c2.createVms({ template: spec("bulk-r2"), count: half }, 300_000)].map((p) =>
          p.then((r) => (times.push(performance.now() - t0), r)),
        ),
      );
      const wallMs = performance.now() - t0;
      c2.close();
      const m1 = await scrape(scheduler.metricsAddress);
      const n = x!.vms.length + y!.vms.length;
      say(`(c) 2 replicas, 2×${half}: ${n} in ${fmtMs(wallMs)} (calls ended at ${times.map(fmtMs).join(", ")}) → ${fmtRate(n / (wallMs / 1000))}; replica-1 conflicts ${delta(m0, m1, "drover_claim_conflicts_total")}`);
      rows.push({
        scenario: `c. 2 replicas (one per thread, same database), 2 concurrent bulk CreateVms of ${half}`,
        hosts,
        vms: n,
        wall: fmtMs(wallMs),
        rate: fmtRate(n / (wallMs / 1000)),
        p50: "–",
        p99: "–",
        note: `${NOTE}; calls ended at ${times.map(fmtMs).join(" and ")}`,
      });
    }

    const fstats = await fleetStats();
    notes.push(`fleet: ${JSON.stringify(fstats)}`);

  } finally {
    await cleanup().catch((e) => say(`cleanup: ${e}`));
    await db.drop();
    say("database dropped");
    if (tlsDir) rmSync(tlsDir, { recursive: true, force: true });
    clearTimeout(watchdog);
  }

  // ---- report
  if (jsonFile) writeFileSync(jsonFile, JSON.stringify(figures));
  console.log("\n## Results\n");
  console.log(`Command: \`node --import tsx benchmarks/api.ts ${process.argv.slice(2).join(" ")}\`${secure ? " (TLS, node identities, tokens)" : ""}\n`);
  console.log("| scenario | hosts | VMs | wall time | rate | p50 | p99 | note |");
  console.log("|---|---|---|---|---|---|---|---|");
  for (const r of rows) console.log(`| ${r.scenario} | ${r.hosts} | ${r.vms.toLocaleString("en-US")} | ${r.wall} | ${r.rate} | ${r.p50} | ${r.p99} | ${r.note} |`);
  console.log("");
  for (const n of notes) console.log(`${n}\n`);
}

/**
 * N DELETED VMs as single creates leave them (a create request each, placed on the fleet's hosts,
 * last changed 8 days ago), then optionally the pre-018 indexes, then optionally their purge.
 */
async function seedDeadRows(sql: Sql, n: number, hosts: number, oldIndexes: boolean, purge: boolean, say: (m: string) => void): Promise<string> {
  await sql`
    WITH r AS (
      INSERT INTO create_requests (id, request_hash, vm_ids, created_at)
      SELECT gen_random_uuid(), md5(i::text), ARRAY[gen_random_uuid()], now() - interval '9 days' FROM generate_series(1, ${n}) i
      RETURNING id, vm_ids[1] AS vm_id, created_at
    )
    INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, claimed, state, placement, request_id, created_at, updated_at)
    SELECT r.vm_id, 'dead-' || row_number() OVER (),
      jsonb_build_object('name', 'dead', 'vcpus', 1, 'memoryMib', 1024, 'diskGib', 0, 'image', '', 'userData', '', 'labels', '{}'::jsonb),
      '{"strategy": "PLACEMENT_STRATEGY_SPREAD"}', 1, 1024, 0,
      'host-' || lpad((1 + (random() * (${hosts} - 1))::int)::text, 5, '0'), false, 'DELETED',
      '{"node": "x", "score": 50, "scores": [{"name": "spread", "score": 50}], "summary": "1000 nodes evaluated"}', r.id, r.created_at, now() - interval '8 days'
    FROM r`;
  if (oldIndexes) {
    await sql.unsafe(`
      DROP INDEX vms_due_idx; DROP INDEX vms_node_state_idx; DROP INDEX vms_dead_idx;
      CREATE INDEX vms_state_idx ON vms (state, due_at); CREATE INDEX vms_node_idx ON vms (node) WHERE claimed;
      ALTER TABLE vms ADD CONSTRAINT vms_request_id_fkey FOREIGN KEY (request_id) REFERENCES create_requests (id)`);
  }
  let what = `${n} DELETED VMs seeded${oldIndexes ? ", vms indexes as before migration 018" : ""}`;
  if (purge) {
    const t0 = performance.now();
    let gone = 0;
    for (;;) {
      const r = await purgeVms(sql, 7 * 86_400_000, false);
      gone += r.vms;
      if (r.vms === 0) break;
    }
    what += `; VM retention purged ${gone} of them in ${((performance.now() - t0) / 1000).toFixed(1)} s (statements of 1,000)`;
  }
  await sql`VACUUM ANALYZE vms`;
  await sql`VACUUM ANALYZE create_requests`;
  say(what);
  return what;
}

/** The scheduler in this process: its main thread is this thread. */
async function schedulerHere(config: SchedulerConfig, log: (m: string) => void): Promise<SchedulerUnderTest> {
  const s: RunningScheduler = await startScheduler(config, log);
  return {
    address: s.address,
    metricsAddress: s.metricsAddress,
    sql: s.sql,
    what: "scheduler thread",
    here: true,
    tasks: () => [`${process.pid}/task/${process.pid}`],
    stop: () => s.stop().then(() => {}),
  };
}

/** The built drover-scheduler in a process of its own, configured like `config` through DROVER_* variables. */
async function schedulerProcess(config: SchedulerConfig, auth: ClientAuth): Promise<SchedulerUnderTest> {
  const metricsAddress = `127.0.0.1:${await freePort()}`;
  const secure: Record<string, string> = config.insecure ? {} : { DROVER_INSECURE: "0", DROVER_TLS_DIR: config.tlsDir };
  const p = await startSchedulerProcess({
    ...secure,
    DROVER_DATABASE_URL: config.databaseUrl,
    DROVER_NATS_URL: config.natsUrl,
    DROVER_METRICS_LISTEN: metricsAddress,
    DROVER_HEARTBEAT_INTERVAL_MS: String(config.heartbeatIntervalMs),
    DROVER_HEARTBEAT_TIMEOUT_MS: String(config.heartbeatTimeoutMs),
    DROVER_PLACEMENT_CANDIDATES: String(config.placementCandidates),
  }, config.insecure ? {} : { creds: auth.creds, ...(auth.token ? { token: auth.token } : {}) });
  const sql = connect(config.databaseUrl, { max: 2 });
  return {
    address: p.address,
    metricsAddress,
    sql,
    what: "scheduler process (all threads)",
    here: false,
    tasks: () => readdirSync(`/proc/${p.pid}/task`).map((t) => `${p.pid}/task/${t}`),
    async stop() {
      await sql.end({ timeout: 5 });
      await p.stop();
    },
  };
}

/** --profile: a CPU profile of this (the scheduler's) thread during one scenario, written to .drover/. */
async function startProfile(cpuNs: () => number): Promise<{ stop(name: string, extra?: object): Promise<string> }> {
  const { Session } = await import("node:inspector/promises");
  const { mkdirSync, writeFileSync } = await import("node:fs");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  const cpu0 = cpuNs();
  const t0 = performance.now();
  return {
    async stop(name, extra = {}) {
      const { profile } = await session.post("Profiler.stop");
      // What the thread spent on a CPU meanwhile (the profile's sample times include waits for one).
      const cpuMs = (cpuNs() - cpu0) / 1e6;
      const wallMs = performance.now() - t0;
      session.disconnect();
      mkdirSync(".drover", { recursive: true });
      const file = `.drover/${name}-${Date.now()}.cpuprofile`;
      writeFileSync(file, JSON.stringify(profile));
      writeFileSync(`${file}.json`, JSON.stringify({ cpuMs, wallMs, ...extra }));
      return file;
    },
  };
}

/** (Anti-)affinity as the VM rows hold it: members of one anti-affinity group sharing a node, affinity groups on more than one node. */
async function groupViolations(sql: Sql): Promise<string> {
  const [r] = await sql<{ anti_groups: number; anti_bad: number; aff_groups: number; aff_bad: number; members: number }[]>`
    WITH m AS (
      SELECT policy->>'antiAffinityGroup' AS anti, policy->>'affinityGroup' AS aff, node FROM vms
      WHERE name LIKE 'single-%' AND claimed AND cardinality(groups) > 0
    )
    SELECT
      (SELECT count(DISTINCT anti)::int FROM m WHERE anti IS NOT NULL) AS anti_groups,
      (SELECT count(*)::int FROM (SELECT 1 FROM m WHERE anti IS NOT NULL GROUP BY anti, node HAVING count(*) > 1) x) AS anti_bad,
      (SELECT count(DISTINCT aff)::int FROM m WHERE aff IS NOT NULL) AS aff_groups,
      (SELECT count(*)::int FROM (SELECT 1 FROM m WHERE aff IS NOT NULL GROUP BY aff HAVING count(DISTINCT node) > 1) x) AS aff_bad,
      (SELECT count(*)::int FROM m) AS members`;
  return r!.anti_groups > 0
    ? `${r!.members} members of ${r!.anti_groups} anti-affinity groups, ${r!.anti_bad} (group, node) pairs with more than one member`
    : `${r!.members} members of ${r!.aff_groups} affinity groups, ${r!.aff_bad} groups on more than one node`;
}

function runningOf(cap: GetCapacityResponse): number {
  return cap.vms.find((v) => v.state === VmState.VM_STATE_RUNNING)?.count ?? 0;
}

// ---------------------------------------------------------------- entry
if (isMainThread) {
  // Twice at 5,000 hosts on a machine at load 15-19 the run ended with status 0 and no report during
  // the warm-up (after "database unreachable" from the scheduler's health probe): Node exits so
  // when nothing is left to wait for. Say so, with what was still open, rather than end silently.
  let settled = false;
  process.on("exit", (code) => {
    if (!settled) console.error(`api.ts: exit ${code} before main() settled; still open: ${process.getActiveResourcesInfo().join(", ") || "nothing"}`);
  });
  main().then(
    () => {
      settled = true;
      process.exit(0);
    },
    (err) => {
      settled = true;
      console.error(err);
      process.exit(1);
    },
  );
} else {
  const data = workerData as { role: string; options?: any; config?: SchedulerConfig };
  if (data.role === "load") {
    void runLoad(data.options).then((result) => parentPort!.postMessage({ type: "result", result }));
  } else if (data.role === "replica") {
    void runReplica(data.config!);
  }
}
