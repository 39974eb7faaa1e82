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
//
// --before DIR first runs the same scenario against the drover-scheduler built in another checkout
// (e.g. a git worktree of the commit before a change, after `npx tsc -b` there), then this tree's.
//
// It reports the scheduler process's CPU time (all its threads, from /proc/<pid>/task/*/schedstat)
// per second of wall time during --seconds after --warmup-seconds, Postgres's CPU over the same
// window, the beats answered, their round trip, and flaps: node.down events and nodes not READY.
// --profile runs the scheduler with --cpu-prof (the profile lands in .drover/ when it stops).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { createKeyAndCsr, issueNodeCertificate, loadCertificateAuthority } from "@drover/pki";
import { DomainState, NodeRegistryServiceService, type HeartbeatRequest } from "@drover/proto";
import { credentials } from "@grpc/grpc-js";
import { createClusterCa, issueToken } from "@drover/scheduler";
import { connect, migrate } from "@drover/store";
import { createTestDatabase } from "@drover/store/testing";
import { startSchedulerProcess } from "../test/support/scheduler-process.js";
import { quantile } from "./common.js";
import { fleetHosts } from "./fleet.js";
import { LiteClient } from "./grpc-lite.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v < 0) throw new Error(`--${name}: not a number: ${process.argv[i + 1]}`);
  return v;
}

interface FleetData {
  role: "heartbeat-fleet";
  address: string;
  caPem: string;
  keyPem: string;
  nodes: { name: string; certPem: string; vmIds: string[] }[];
  intervalMs: number;
}

interface FleetReport {
  sent: number;
  ok: number;
  errors: Record<string, number>;
  rttMs: number[];
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
    domains: n.vmIds.map((vmId) => ({ vmId, name: vmId, state: DomainState.DOMAIN_STATE_RUNNING, reason: "", interfaces: [], reportInterfaces: false, generation: 1 })),
  }));
  let report: FleetReport = { sent: 0, ok: 0, errors: {}, rttMs: [] };
  let stopped = false;
  const beat = (i: number) => {
    const req = requests[i]!;
    req.seq++;
    report.sent++;
    const r = report;
    const t0 = performance.now();
    clients[i]!.unary(NodeRegistryServiceService.heartbeat, req, 10_000).then(
      () => {
        r.ok++;
        r.rttMs.push(performance.now() - t0);
      },
      (err: Error) => {
        const k = err.message.slice(0, 100);
        r.errors[k] = (r.errors[k] ?? 0) + 1;
      },
    );
  };
  // Every node once per interval, spread evenly over it in 100 slots.
  const SLOTS = 100;
  let slot = 0;
  const timer = setInterval(() => {
    if (stopped) return;
    const s = slot++ % SLOTS;
    for (let i = s; i < clients.length; i += SLOTS) beat(i);
  }, d.intervalMs / SLOTS);
  parentPort!.on("message", (m: { cmd: string }) => {
    if (m.cmd === "report") {
      parentPort!.postMessage({ type: "report", report });
      report = { sent: 0, ok: 0, errors: {}, rttMs: [] };
    }
    if (m.cmd === "stop") {
      stopped = true;
      clearInterval(timer);
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
async function scenario(o: Setup, label: string, main: string | undefined, profile: boolean): Promise<string> {
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
      { DROVER_DATABASE_URL: db.url, DROVER_NATS_URL: "", DROVER_INSECURE: "0", DROVER_TLS_DIR: o.caDir, DROVER_HEARTBEAT_INTERVAL_MS: String(o.intervalMs) },
      // The readiness probe (ListNodes) over TLS with an admin token.
      { creds: credentials.createSsl(Buffer.from(o.caPem)), token: (await issueToken(sql, { role: "admin", project: "default", description: "benchmark" })).bearer },
      profile ? ["--cpu-prof", `--cpu-prof-dir=${join(process.cwd(), ".drover")}`] : [],
      main,
    );
    say(`${label}: scheduler process ${scheduler.pid} at ${scheduler.address} (TLS, node certificates checked on every call)`);

    const data: FleetData = {
      role: "heartbeat-fleet",
      address: scheduler.address,
      caPem: o.caPem,
      keyPem: o.keyPem,
      nodes: hosts.map((h, i) => ({ name: h.name, certPem: certs[i]!.certPem, vmIds: vmIds[i]! })),
      intervalMs: o.intervalMs,
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
    const c0 = cpuNs(scheduler.pid);
    const p0 = jiffiesOf("postgres");
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, o.seconds * 1000));
    const c1 = cpuNs(scheduler.pid);
    const p1 = jiffiesOf("postgres");
    const wallMs = performance.now() - w0;
    fleet.postMessage({ cmd: "report" });
    const run = (await next(fleet, "report")).report as FleetReport;
    const [flaps] = await sql<{ down: number }[]>`SELECT count(*)::int AS down FROM outbox WHERE subject = 'drover.node.down' AND id > ${seq0}`;
    const [notReady] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM nodes WHERE state <> 'READY'`;
    const [allDown] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM outbox WHERE subject = 'drover.node.down'`;
    const [lost] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM vms WHERE state <> 'RUNNING'`;
    const rtt = run.rttMs.sort((a, b) => a - b);
    const schedShare = (c1 - c0) / 1e6 / wallMs;
    const pgShare = ((p1 - p0) * 10) / wallMs;
    const beatsPerS = run.ok / (wallMs / 1000);
    const errs = Object.entries(run.errors).map(([k, v]) => `${v}× ${k}`).join("; ");
    say(`${label}: warm-up ${warm.ok} beats answered of ${warm.sent}; run ${run.ok} of ${run.sent}${errs ? `; errors: ${errs}` : ""}`);
    if (process.argv.includes("--log")) console.log(`\nscheduler output:\n${scheduler.output().slice(-5000)}`);
    return (
      `| ${label} | ${nodes} | ${Math.round(beatsPerS)} | **${(schedShare * 100).toFixed(1)} %** | ${((schedShare * 1e6) / beatsPerS).toFixed(0)} µs | ${(pgShare * 100).toFixed(1)} % | ` +
      `${quantile(rtt, 0.5).toFixed(1)} ms | ${quantile(rtt, 0.99).toFixed(1)} ms | ${Object.values(run.errors).reduce((a, b) => a + b, 0)} | ${flaps!.down} / ${allDown!.n} | ${notReady!.n} | ${lost!.n} |`
    );
  } finally {
    if (fleet) {
      fleet.postMessage({ cmd: "stop" });
      await Promise.race([next(fleet, "stopped"), new Promise((r) => setTimeout(r, 10_000))]);
      await fleet.terminate();
    }
    await scheduler?.stop();
    await sql.end();
    await db.drop();
  }
}

async function main(): Promise<void> {
  const say = (m: string) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${m}`);
  const nodes = arg("nodes", 10_000);
  const i = process.argv.indexOf("--before");
  const before = i >= 0 ? process.argv[i + 1] : undefined;
  const dir = mkdtempSync(join(tmpdir(), "drover-hb-bench-"));
  try {
    const ca = await createClusterCa(join(dir, "ca"));
    const authority = await loadCertificateAuthority(readFileSync(ca.certFile, "utf8"), readFileSync(ca.keyFile, "utf8"));
    // One key for every simulated node (a benchmark shortcut: the handshake and the check per call
    // are the same), each its own certificate, recorded as JoinNode records it.
    const { keyPem, csrPem } = await createKeyAndCsr("bench");
    const hosts = fleetHosts(nodes, 42, "127.0.0.1:1");
    const t0 = performance.now();
    const certs: Setup["certs"] = [];
    for (let j = 0; j < hosts.length; j += 64) {
      const part = hosts.slice(j, j + 64);
      const issued = await Promise.all(part.map((h) => issueNodeCertificate(authority, csrPem, h.name, 7 * 86_400_000)));
      issued.forEach((c, k) => certs.push({ name: part[k]!.name, certPem: c.certificatePem, serial: c.serial, notAfter: c.notAfter }));
    }
    say(`${nodes} node certificates issued in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const setup: Setup = {
      nodes,
      vmsPerNode: arg("vms-per-node", 2),
      intervalMs: arg("interval-ms", 2000),
      warmupS: arg("warmup-seconds", 20),
      seconds: arg("seconds", 30),
      caDir: join(dir, "ca"),
      caPem: readFileSync(ca.certFile, "utf8"),
      keyPem,
      hosts,
      certs,
      say,
    };
    const profile = process.argv.includes("--profile");
    const rows: string[] = [];
    // --before DIR: first the same scenario against the drover-scheduler built in another checkout (DIR/packages/scheduler/dist/main.js).
    if (before) rows.push(await scenario(setup, "before", join(before, "packages/scheduler/dist/main.js"), profile));
    rows.push(await scenario(setup, before ? "after" : "this tree", undefined, profile));
    console.log(`\nheartbeats: ${nodes} nodes × ${setup.vmsPerNode} domains (unchanged), every ${setup.intervalMs} ms, TLS with a certificate per node; the scheduler in its own process; ${setup.seconds} s measured after ${setup.warmupS} s of warm-up\n`);
    console.log("| build | nodes | beats/s | scheduler CPU (% of a core) | CPU per beat | Postgres CPU (% of a core) | RTT p50 | RTT p99 | errors | node.down (measured / all) | nodes not READY | VMs not RUNNING |");
    console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (const r of rows) console.log(r);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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
