// Heartbeat cost at fleet scale: --nodes simulated agents (default 10,000) heartbeat every
// --interval-ms (default 2000, the agent's default) to the built drover-scheduler, which runs as a
// process of its own with TLS on as by default: every node has its own certificate from the
// cluster CA and its own mTLS connection, and each beat is authorized by it. Each beat reports the
// node's --vms-per-node domains (RUNNING VMs the database has on it), unchanged from beat to beat:
// the steady state of a fleet. Real Postgres; agents simulated AT THE gRPC BOUNDARY (a worker
// thread speaking gRPC over node:http2, benchmarks/grpc-lite.ts), no libvirt.
//
//   npx tsc -b && node --import tsx benchmarks/heartbeats.ts [--nodes 10000] [--vms-per-node 2]
//        [--interval-ms 2000] [--warmup-seconds 20] [--seconds 30] [--profile] [--log] [--before DIR]
//        [--transports unary,stream] [--rounds 1] [--after DIR] [--cert-cache DIR] [--also-node-args "--max-semi-space-size=32"]
//        [--max-heartbeats-per-second N]
//
// The simulated agents keep the beat-rate floor their stream tells (beat-pacer.ts), as agents do;
// --max-heartbeats-per-second sets the scheduler's DROVER_MAX_HEARTBEATS_PER_SECOND (default: its default).
//
// --transports: how this tree's agents beat, one scenario each: `stream` (StreamHeartbeats, what
// agents use) and/or `unary` (Heartbeat calls, what older agents use). --before DIR runs each
// scenario against the drover-scheduler built in another checkout too (e.g. a git worktree of the
// commit before a change, after `npx tsc -b` there), before and after alternating for --rounds
// rounds (ABBA). --cert-cache DIR keeps the CA and the node
// certificates there for the next run with the same --nodes (issuing 10,000 took minutes).
//
// Beats are counted as the database recorded them (the sum of node_heartbeats.seq over the
// window): a beat on a stream has no answer of its own. The round trip is the unary calls' only.
//
// It reports the scheduler process's CPU time (all its threads, from /proc/<pid>/task/*/schedstat)
// per second of wall time during --seconds after --warmup-seconds, Postgres's CPU over the same
// window, the beats answered, their round trip, and flaps: node.down events and nodes not READY.
// --profile runs the scheduler with --cpu-prof (the profile lands in .drover/ when it stops).
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { createKeyAndCsr, issueNodeCertificate, loadCertificateAuthority } from "@drover/pki";
import { DomainState, NodeRegistryServiceService, type HeartbeatRequest, type StreamHeartbeatsResponse } from "@drover/proto";
import { credentials } from "@grpc/grpc-js";
import { createClusterCa, issueToken } from "@drover/scheduler";
import { connect, migrate } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { startSchedulerProcess } from "../test/support/scheduler-process.js";
import { quantile } from "./common.js";
import { BeatPacer } from "./beat-pacer.js";
import { fleetHosts } from "./fleet.js";
import { LiteClient, type GrpcLiteError } from "./grpc-lite.js";
import { flag, numberFlag } from "./flags.js";
import { slotClock } from "./slot-clock.js";

type Transport = "unary" | "stream";


interface FleetData {
  role: "heartbeat-fleet";
  address: string;
  caPem: string;
  keyPem: string;
  nodes: { name: string; certPem: string; vmIds: string[] }[];
  intervalMs: number;
  transport: Transport;
}

interface FleetReport {
  sent: number;
  /** Unary calls answered OK; stream answers received. */
  ok: number;
  errors: Record<string, number>;
  rttMs: number[];
  /** Nodes beating slower than --interval-ms (told a beat-rate floor) when the report was taken. */
  slowed: number;
}

// ---------------------------------------------------------------- the fleet (worker thread)
async function runFleet(d: FleetData): Promise<void> {
  // One mTLS connection per node, as each agent has its own; opened 100 at a time before any beat.
  const clients: LiteClient[] = [];
  const t0 = performance.now();
  for (let i = 0; i < d.nodes.length; i += 100) {
    const batch = d.nodes.slice(i, i + 100).map((n) => new LiteClient(d.address, { ca: d.caPem, cert: n.certPem, key: d.keyPem }));
    await Promise.all(batch.map((c) => c.ready()));
    clients.push(...batch);
  }
  const connectMs = performance.now() - t0;
  const requests: HeartbeatRequest[] = d.nodes.map((n) => ({
    name: n.name,
    bootId: randomUUID(),
    seq: 0,
    libvirtUnavailable: "",
    intervalMs: d.intervalMs,
    domains: n.vmIds.map((vmId) => ({ vmId, name: vmId, state: DomainState.DOMAIN_STATE_RUNNING, reason: "", interfaces: [], reportInterfaces: false, generation: 1 })),
  }));
  let report: FleetReport = { sent: 0, ok: 0, errors: {}, rttMs: [], slowed: 0 };
  // Each node slowed down to the floor its stream tells, as an agent is (beat-pacer.ts).
  const pacer = new BeatPacer(d.nodes.length, d.intervalMs);
  let stopped = false;
  const failed = (err: Error) => {
    const k = err.message.slice(0, 100);
    report.errors[k] = (report.errors[k] ?? 0) + 1;
  };
  const unaryBeat = (i: number, req: HeartbeatRequest) => {
    const r = report;
    const t0 = performance.now();
    clients[i]!.unary(NodeRegistryServiceService.heartbeat, req, 10_000).then(
      () => {
        r.ok++;
        r.rttMs.push(performance.now() - t0);
      },
      failed,
    );
  };
  // One StreamHeartbeats stream per node, opened at its first beat and again after it ends.
  const streams: ({ write(req: { beat: HeartbeatRequest }): void; end(): void } | undefined)[] = [];
  const streamBeat = (i: number, req: HeartbeatRequest) => {
    let s = streams[i];
    if (!s) {
      s = clients[i]!.bidi(
        NodeRegistryServiceService.streamHeartbeats,
        (res: StreamHeartbeatsResponse) => {
          report.ok++;
          pacer.told(i, res.minHeartbeatIntervalMs);
        },
        (err: GrpcLiteError) => {
          streams[i] = undefined;
          if (!stopped) failed(err);
        },
      );
      streams[i] = s;
    }
    s.write({ beat: req });
  };
  const beat = (i: number) => {
    const req = requests[i]!;
    req.seq++;
    req.intervalMs = pacer.saidMs(i);
    report.sent++;
    if (d.transport === "stream") streamBeat(i, req);
    else unaryBeat(i, req);
  };
  // Every node once per interval, spread evenly over it in 100 slots.
  const SLOTS = 100;
  const stopClock = slotClock(SLOTS, d.intervalMs, (s) => {
    if (stopped) return;
    for (let i = s; i < clients.length; i += SLOTS) if (pacer.due(i)) beat(i);
  });
  parentPort!.on("message", (m: { cmd: string }) => {
    if (m.cmd === "report") {
      report.slowed = pacer.slowed();
      parentPort!.postMessage({ type: "report", report });
      report = { sent: 0, ok: 0, errors: {}, rttMs: [], slowed: 0 };
    }
    if (m.cmd === "stop") {
      stopped = true;
      stopClock();
      for (const st of streams) st?.end();
      for (const c of clients) c.destroy();
      parentPort!.postMessage({ type: "stopped" });
    }
  });
  parentPort!.postMessage({ type: "started", connectMs });
}

// ---------------------------------------------------------------- main
const cpuNs = (pid: number): number => {
  let ns = 0;
  for (const t of readdirSync(`/proc/${pid}/task`)) {
    try {
      ns += Number(readFileSync(`/proc/${pid}/task/${t}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      /* thread gone */
    }
  }
  return ns;
};
/** CPU jiffies (10 ms) of every process named `comm`. */
const jiffiesOf = (comm: string): number => {
  let j = 0;
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const s = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (s.slice(s.indexOf("(") + 1, s.lastIndexOf(")")) !== comm) continue;
      const f = s.slice(s.lastIndexOf(")") + 2).split(" ");
      j += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return j;
};

function next(worker: Worker, type: string): Promise<any> {
  return new Promise((resolve, reject) => {
    const on = (m: { type: string }) => {
      if (m.type !== type) return;
      worker.off("message", on);
      resolve(m);
    };
    worker.on("message", on);
    worker.once("error", reject);
  });
}

interface Setup {
  nodes: number;
  vmsPerNode: number;
  intervalMs: number;
  /** DROVER_MAX_HEARTBEATS_PER_SECOND for the scheduler; undefined: its default. */
  maxBeatsPerS: number | undefined;
  warmupS: number;
  seconds: number;
  caDir: string;
  caPem: string;
  keyPem: string;
  hosts: ReturnType<typeof fleetHosts>;
  certs: { name: string; certPem: string; serial: string; notAfter: Date }[];
  say(m: string): void;
}

/** One measurement against the drover-scheduler built at `main` (its dist/main.js), on a database of its own. */
async function scenario(o: Setup, label: string, main: string | undefined, profile: boolean, transport: Transport, nodeArgs: string[] = []): Promise<string> {
  const { nodes, vmsPerNode, hosts, certs, say } = o;
  const db = await createTestDatabase();
  const sql = connect(db.url, { max: 4 });
  let scheduler: Awaited<ReturnType<typeof startSchedulerProcess>> | undefined;
  let fleet: Worker | undefined;
  try {
    await migrate(sql);
    // Nodes, their certificates and their RUNNING VMs straight into the database (registration is not what is measured).
    await sql`
      INSERT INTO nodes (name, address, vcpus, memory_mib, disk_gib, cpu_ratio, memory_ratio, disk_ratio, labels, alloc_vcpus, alloc_memory_mib)
      SELECT name, '127.0.0.1:1', vcpus, memory_mib, disk_gib, 4, 1, 1, labels::jsonb, ${vmsPerNode}, ${vmsPerNode * 1024}
      FROM unnest(${hosts.map((h) => h.name)}::text[], ${hosts.map((h) => h.capacity!.vcpus)}::int[], ${hosts.map((h) => h.capacity!.memoryMib)}::int8[],
        ${hosts.map((h) => h.capacity!.diskGib)}::int8[], ${hosts.map((h) => JSON.stringify(h.labels))}::text[]) AS t(name, vcpus, memory_mib, disk_gib, labels)`;
    await sql`INSERT INTO node_heartbeats (name) SELECT name FROM nodes`;
    await sql`INSERT INTO node_certificates (serial, node_name, not_after)
      SELECT serial, name, not_after::timestamptz
      FROM unnest(${certs.map((c) => c.serial)}::text[], ${certs.map((c) => c.name)}::text[], ${certs.map((c) => c.notAfter.toISOString())}::text[]) AS t(serial, name, not_after)`;
    const vmIds = hosts.map(() => Array.from({ length: vmsPerNode }, () => randomUUID()));
    const flat = hosts.flatMap((h, i) => vmIds[i]!.map((id) => ({ id, node: h.name })));
    for (let i = 0; i < flat.length; i += 20_000) {
      const part = flat.slice(i, i + 20_000);
      await sql`
        INSERT INTO vms (id, name, spec, policy, vcpus, memory_mib, disk_gib, node, claimed, state, report_generation)
        SELECT id, 'vm', '{"name": "vm", "vcpus": 1, "memoryMib": 1024}', '{}', 1, 1024, 0, node, true, 'RUNNING', 1
        FROM unnest(${part.map((v) => v.id)}::uuid[], ${part.map((v) => v.node)}::text[]) AS t(id, node)`;
    }
    await sql`UPDATE projects SET used_vcpus = ${flat.length}, used_memory_mib = ${flat.length * 1024}, used_vms = ${flat.length} WHERE name = 'default'`;
    await sql`VACUUM ANALYZE`;
    say(`${label}: ${nodes} nodes and ${flat.length} RUNNING VMs in the database`);

    scheduler = await startSchedulerProcess(
      { DROVER_DATABASE_URL: db.url, DROVER_NATS_URL: "", DROVER_INSECURE: "0", DROVER_TLS_DIR: o.caDir, DROVER_HEARTBEAT_INTERVAL_MS: String(o.intervalMs),
        ...(o.maxBeatsPerS !== undefined ? { DROVER_MAX_HEARTBEATS_PER_SECOND: String(o.maxBeatsPerS) } : {}) },
      // The readiness probe (ListNodes) over TLS with an admin token.
      { creds: credentials.createSsl(Buffer.from(o.caPem)), token: (await issueToken(sql, { role: "admin", project: "default", description: "benchmark" })).bearer },
      [...nodeArgs, ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${join(process.cwd(), ".drover")}`] : [])],
      main,
    );
    say(`${label}: scheduler process ${scheduler.pid} at ${scheduler.address} (TLS, node certificates checked on every call)`);

    // The replica's own cost with no beat at all (its background loops), to tell from what beats cost.
    const i0 = cpuNs(scheduler.pid);
    const iw0 = performance.now();
    await new Promise((r) => setTimeout(r, 5000));
    const idleShare = (cpuNs(scheduler.pid) - i0) / 1e6 / (performance.now() - iw0);

    const data: FleetData = {
      role: "heartbeat-fleet",
      address: scheduler.address,
      caPem: o.caPem,
      keyPem: o.keyPem,
      nodes: hosts.map((h, i) => ({ name: h.name, certPem: certs[i]!.certPem, vmIds: vmIds[i]! })),
      intervalMs: o.intervalMs,
      transport,
    };
    const boot = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`;
    fleet = new Worker(boot, { eval: true, workerData: data });
    fleet.on("error", (e) => say(`fleet error: ${String(e)}`));
    const { connectMs } = (await next(fleet, "started")) as { connectMs: number };
    say(`${label}: ${nodes} mTLS connections up in ${(connectMs / 1000).toFixed(1)} s; beating every ${o.intervalMs} ms; warm-up ${o.warmupS} s`);
    await new Promise((r) => setTimeout(r, o.warmupS * 1000));
    const [mark] = await sql<{ seq: number }[]>`SELECT coalesce(max(id), 0) AS seq FROM outbox`;
    const seq0 = mark!.seq;
    fleet.postMessage({ cmd: "report" });
    const warm = (await next(fleet, "report")).report as FleetReport;
    const beatsRecorded = async () => (await sql<{ n: number }[]>`SELECT coalesce(sum(seq), 0)::float8 AS n FROM node_heartbeats`)[0]!.n;
    const b0 = await beatsRecorded();
    const c0 = cpuNs(scheduler.pid);
    const p0 = jiffiesOf("postgres");
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const c1 = cpuNs(scheduler.pid);
    const p1 = jiffiesOf("postgres");
    const wallMs = performance.now() - w0;
    const b1 = await beatsRecorded();
    fleet.postMessage({ cmd: "report" });
    const run = (await next(fleet, "report")).report as FleetReport;
    const [flaps] = await sql<{ down: number }[]>`SELECT count(*)::int AS down FROM outbox WHERE subject = 'drover.node.down' AND id > ${seq0}`;
    const [notReady] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM nodes WHERE state <> 'READY'`;
    const [allDown] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE subject = 'drover.node.down'`;
    const [lost] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM vms WHERE state <> 'RUNNING'`;
    // The longest timeout a beat was recorded with: how long a node that stops is heard before DOWN (a build before the beat-rate cap has none).
    const timeoutMs = await sql<{ ms: number }[]>`SELECT max(timeout_ms)::int AS ms FROM node_heartbeats`.then(
      (r) => `${((r[0]?.ms ?? 0) / 1000).toFixed(0)} s`,
      () => "10 s (configured)",
    );
    const rtt = run.rttMs.sort((a, b) => a - b);
    const schedShare = (c1 - c0) / 1e6 / wallMs;
    const pgShare = ((p1 - p0) * 10) / wallMs;
    const beatsPerS = (b1 - b0) / (wallMs / 1000);
    const errs = Object.entries(run.errors).map(([k, v]) => `${v}× ${k}`).join("; ");
    say(`${label}: warm-up ${warm.ok} answers to ${warm.sent} beats; run ${run.ok} answers to ${run.sent} beats, ${b1 - b0} recorded${errs ? `; errors: ${errs}` : ""}`);
    if (process.argv.includes("--log")) console.log(`\nscheduler output:\n${scheduler.output().slice(-5000)}`);
    return (
      `| ${label} | ${transport} | ${nodes} | ${Math.round(beatsPerS)} | **${(schedShare * 100).toFixed(1)} %** | ${(idleShare * 100).toFixed(1)} % | ` +
      `${((schedShare * 1e6) / beatsPerS).toFixed(0)} µs | ${(((schedShare - idleShare) * 1e6) / beatsPerS).toFixed(0)} µs | ${(pgShare * 100).toFixed(1)} % | ` +
      `${rtt.length ? `${quantile(rtt, 0.5).toFixed(1)} ms | ${quantile(rtt, 0.99).toFixed(1)} ms` : "– | –"} | ${Object.values(run.errors).reduce((a, b) => a + b, 0)} | ${flaps!.down} / ${allDown!.n} | ${notReady!.n} | ${lost!.n} | ${run.slowed} | ${timeoutMs} |`
    );
  } finally {
    if (fleet) {
      fleet.postMessage({ cmd: "stop" });
      await Promise.race([next(fleet, "stopped"), new Promise((r) => setTimeout(r, 10_000))]);
      await fleet.terminate();
    }
    if (scheduler) {
      const t0 = performance.now();
      const stopped = await Promise.race([scheduler.stop().then(() => true), new Promise((r) => setTimeout(() => r(false), 60_000))]);
      if (stopped) say(`${label}: scheduler stopped (SIGTERM) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      else {
        say(`${label}: scheduler did not stop within 60 s of SIGTERM; killed. Its last output:\n${scheduler.output().slice(-3000)}`);
        await scheduler.kill();
      }
    }
    await sql.end();
    await db.drop();
  }
}

async function main(): Promise<void> {
  const say = (m: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`);
  const nodes = numberFlag("nodes", 10_000);
  const before = flag("before");
  const cache = flag("cert-cache");
  const dir = cache ?? mkdtempSync(join(tmpdir(), "drover-hb-bench-"));
  const named = (flag("transports") ?? "unary,stream").split(",");
  const transports = named.map((t): Transport => {
    if (t === "unary" || t === "stream") return t;
    throw new Error(`--transports: unary or stream, not ${t}`);
  });
  try {
    const hosts = fleetHosts(nodes, 42, "127.0.0.1:1");
    const { certs, keyPem, caPem } = await nodeCertificates(dir, hosts, say);
    const setup: Setup = {
      nodes,
      vmsPerNode: numberFlag("vms-per-node", 2),
      intervalMs: numberFlag("interval-ms", 2000),
      maxBeatsPerS: flag("max-heartbeats-per-second") === undefined ? undefined : numberFlag("max-heartbeats-per-second", 0),
      warmupS: numberFlag("warmup-seconds", 20),
      seconds: numberFlag("seconds", 30),
      caDir: join(dir, "ca"),
      caPem,
      keyPem,
      hosts,
      certs,
      say,
    };
    const profile = process.argv.includes("--profile");
    const rows: string[] = [];
    // --before DIR: the same scenarios against the drover-scheduler built in another checkout
    // (DIR/packages/scheduler/dist/main.js) too, before and after alternating over --rounds
    // (before, after, after, before, ...: ABBA), so a change in the machine's load hits both alike.
    const rounds = numberFlag("rounds", 1, { positive: true });
    // --after DIR: "after" is the build in DIR rather than this tree's (a snapshot, so this tree can be rebuilt meanwhile).
    const after = flag("after") ?? join(import.meta.dirname, "..");
    for (const t of transports) {
      for (let r = 0; r < (before ? rounds : 1); r++) {
        const order = !before ? ["this tree"] : r % 2 === 0 ? ["before", "after"] : ["after", "before"];
        for (const label of order) {
          rows.push(await scenario(setup, label, join(label === "before" ? before! : after, "packages/scheduler/dist/main.js"), profile, t));
          say(rows.at(-1)!);
        }
      }
    }
    // --also-node-args "…": the stream scenario once more, the scheduler's node given these flags (e.g. GC sizing).
    const alsoNodeArgs = flag("also-node-args");
    if (alsoNodeArgs !== undefined) {
      const extra = alsoNodeArgs.split(" ").filter(Boolean);
      rows.push(await scenario(setup, `${before ? "after" : "this tree"}, node ${extra.join(" ")}`, undefined, profile, "stream", extra));
    }
    console.log(`\nheartbeats: ${nodes} nodes × ${setup.vmsPerNode} domains (unchanged), every ${setup.intervalMs} ms, TLS with a certificate per node; the scheduler in its own process; ${setup.seconds} s measured after ${setup.warmupS} s of warm-up\n`);
    console.log("| build | transport | nodes | beats/s recorded | scheduler CPU (% of a core) | idle, no beats | CPU per beat | over idle, per beat | Postgres CPU, all of the machine's (% of a core) | RTT p50 | RTT p99 | errors | node.down (measured / all) | nodes not READY | VMs not RUNNING | nodes slowed by the cap | timeout after a beat |");
    console.log("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (const r of rows) console.log(r);
  } finally {
    if (!cache) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The CA in `dir`/ca and one certificate per host, recorded as JoinNode records it. One key for
 * every simulated node (a benchmark shortcut: the handshake and the checks are the same), each its
 * own certificate. Kept in `dir` for the next run with as many nodes.
 */
async function nodeCertificates(dir: string, hosts: ReturnType<typeof fleetHosts>, say: (m: string) => void) {
  const file = join(dir, `certs-${hosts.length}.json`);
  const caDir = join(dir, "ca");
  if (existsSync(file) && existsSync(join(caDir, "ca.pem"))) {
    const saved = JSON.parse(readFileSync(file, "utf8")) as { caPem?: string; keyPem: string; certs: { name: string; certPem: string; serial: string; notAfter: string }[] };
    if (saved.caPem === readFileSync(join(caDir, "ca.pem"), "utf8") && saved.certs.every((c) => new Date(c.notAfter).getTime() > Date.now() + 86_400_000)) {
      say(`${hosts.length} node certificates from ${file}`);
      return { keyPem: saved.keyPem, caPem: readFileSync(join(caDir, "ca.pem"), "utf8"), certs: saved.certs.map((c) => ({ ...c, notAfter: new Date(c.notAfter) })) };
    }
  }
  mkdirSync(dir, { recursive: true });
  // One CA for every fleet size kept here: a new one makes every kept certificate worthless.
  if (!existsSync(join(caDir, "ca.pem"))) {
    for (const f of readdirSync(dir)) if (f.startsWith("certs-")) rmSync(join(dir, f));
    await createClusterCa(caDir);
  }
  const ca = { certFile: join(caDir, "ca.pem"), keyFile: join(caDir, "ca-key.pem") };
  const authority = await loadCertificateAuthority(readFileSync(ca.certFile, "utf8"), readFileSync(ca.keyFile, "utf8"));
  const { keyPem, csrPem } = await createKeyAndCsr("bench");
  const t0 = performance.now();
  const certs: Setup["certs"] = [];
  for (let j = 0; j < hosts.length; j += 64) {
    const part = hosts.slice(j, j + 64);
    const issued = await Promise.all(part.map((h) => issueNodeCertificate(authority, csrPem, h.name, 7 * 86_400_000)));
    issued.forEach((c, k) => certs.push({ name: part[k]!.name, certPem: c.certificatePem, serial: c.serial, notAfter: c.notAfter }));
  }
  say(`${hosts.length} node certificates issued in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  writeFileSync(file, JSON.stringify({ caPem: readFileSync(ca.certFile, "utf8"), keyPem, certs }));
  return { keyPem, caPem: readFileSync(ca.certFile, "utf8"), certs };
}

if (isMainThread) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
} else if ((workerData as { role?: string } | null)?.role === "heartbeat-fleet") {
  void runFleet(workerData as FleetData);
}
