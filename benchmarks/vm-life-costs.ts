// What Postgres spends on one VM's life through the single-create path, stage by stage, as bench:api
// drives it: creates committed 24 to a statement (the create batcher's group commit), leased and
// marked RUNNING ~24 to a statement (the dispatcher's RunningMarker, which tells the heartbeat
// memo what it marked where the build has that), the outbox relay's statements (without NATS),
// then each VM's node beats with its new domain: the beat recorded and the node reconciled (or not:
// the fast path after this replica's own mark), as the scheduler does it (acceptHeartbeat); then
// each node beats again (the fast path). The cost is the Postgres backend's CPU (/proc/<pid>/stat
// utime+stime of the one connection), so other load on the machine counts only as far as it slows
// this backend; and this process's CPU (process.cpuUsage: the scheduler's side, and postgres.js).
//
//   npx tsc -b && node --import tsx benchmarks/vm-life-costs.ts --before=DIR [--nodes=1000] [--rounds=60] [--pairs=2] [--running-per-node=10] [--statements] [--held-slots]
//
// --held-slots: a build that has commitPlacementsWithNodes commits the creates as a create holding
// dispatcher slots does (the VMs PROVISIONING under a lease, the claimed nodes' addresses
// returned), and takes no lease after: its "lease" stage is none. A build without it leases as before.
//
// --before=DIR: another checkout, built with `npx tsc -b` (e.g. a git worktree of main); its
// packages/store/dist and packages/scheduler/dist are the "before" build. Builds alternate
// (before, after, after, before, ...), each on a database its own migrations made. --statements:
// each run's statements per VM too (pg_stat_statements, from another connection: see statements.ts).
import { readFileSync } from "node:fs";
import type * as StoreModule from "@drover/store";
import { createTestDatabase, placedRequest, together } from "@drover/store/testing";
import { prng } from "./common.js";
import { importBuilt, numberFlag, requiredBeforeDir } from "./flags.js";
import { enableStatements, report, settle, snapshot } from "./statements.js";

type Store = typeof StoreModule;
type HeartbeatModule = typeof import("../packages/scheduler/src/liveness/heartbeat.js");
type BatcherModule = typeof import("../packages/scheduler/src/liveness/heartbeat-batcher.js");
type GateModule = typeof import("../packages/scheduler/src/liveness/reconcile-gate.js");
type ConfigModule = typeof import("../packages/scheduler/src/config.js");
type MarkerModule = typeof import("../packages/scheduler/src/dispatch/running-marker.js");
interface Build {
  label: string;
  store: Store;
  heartbeat: HeartbeatModule;
  batcher: BatcherModule;
  gate: GateModule;
  config: ConfigModule;
  marker: MarkerModule;
}

const NODES = numberFlag("nodes", 1000, { positive: true });
const ROUNDS = numberFlag("rounds", 60, { positive: true });
const PAIRS = numberFlag("pairs", 2, { positive: true });
const RUNNING_PER_NODE = numberFlag("running-per-node", 10);
const HELD_SLOTS = process.argv.includes("--held-slots");
const BATCH = 24; // VMs per create statement, lease and RUNNING mark, as bench:api's 64 clients made them

/** CPU time the backend has used so far, in µs. */
function backendCpuUs(pid: number): number {
  return Number(readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]) / 1000;
}

async function load(dir: string, label: string): Promise<Build> {
  return {
    label,
    store: await importBuilt<Store>(dir, "packages/store/dist/index.js"),
    heartbeat: await importBuilt<HeartbeatModule>(dir, "packages/scheduler/dist/liveness/heartbeat.js"),
    batcher: await importBuilt<BatcherModule>(dir, "packages/scheduler/dist/liveness/heartbeat-batcher.js"),
    gate: await importBuilt<GateModule>(dir, "packages/scheduler/dist/liveness/reconcile-gate.js"),
    config: await importBuilt<ConfigModule>(dir, "packages/scheduler/dist/config.js"),
    marker: await importBuilt<MarkerModule>(dir, "packages/scheduler/dist/dispatch/running-marker.js"),
  };
}

const STAGES = ["create", "lease", "running", "relay", "beat + reconcile", "beat (fast path)", "fold"] as const;
type Stage = (typeof STAGES)[number];

/** This process's CPU time so far, in µs. */
function processCpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

async function measure(b: Build): Promise<{ pg: Map<Stage, number>; own: Map<Stage, number> }> {
  const { store } = b;
  const db = await createTestDatabase();
  const sql = store.connect(db.url, { max: 1 });
  const spent = new Map<Stage, number>(STAGES.map((s) => [s, 0]));
  const own = new Map<Stage, number>(STAGES.map((s) => [s, 0]));
  try {
    await store.migrate(sql);
    const ratios = { cpuRatio: 4, memoryRatio: 1, diskRatio: 1, reservedVcpus: 0, reservedMemoryMib: 0, reservedDiskGib: 0 };
    const names = Array.from({ length: NODES }, (_, i) => `host-${i}`);
    for (const name of names) await store.upsertNode(sql, { name, address: "127.0.0.1:1", vcpus: 64, memoryMib: 262_144, diskGib: 1000, labels: {} }, ratios);
    // VMs already RUNNING on every node (bench:api's warm-up and earlier creates), each in its node's report.
    const domains = new Map<string, { vmId: string; state: "running"; generation: number }[]>();
    for (let k = 0; k < RUNNING_PER_NODE; k++) {
      const placed = together(names.map((node) => placedRequest([node], 1024, { name: "warm" })));
      await store.commitPlacements(sql, placed);
      for (const p of placed.vms) domains.set(p.node, [...(domains.get(p.node) ?? []), { vmId: p.id, state: "running", generation: 1 }]);
    }
    await sql`UPDATE vms SET state = 'RUNNING', report_generation = 1`;
    await store.foldVmChanges(sql);
    // No ANALYZE: bench:api's server runs without autovacuum (as CI's does), so neither has statistics.
    const pid = (await sql<{ pid: number }[]>`SELECT pg_backend_pid() AS pid`)[0]!.pid;
    const heartbeats = new b.batcher.HeartbeatBatcher(sql, 0, new b.gate.ReconcileGate(() => 0));
    const deps = { sql, config: b.config.defaultConfig, heartbeats, log: () => {} };
    let seq = 0;
    const beatAll = async (nodes: string[]) => {
      seq++;
      await Promise.all(nodes.map((name) => b.heartbeat.acceptHeartbeat(deps, { name, bootId: "b", seq, domains: domains.get(name) ?? [], libvirtUnavailable: "" })));
    };
    // The before build's RunningMarker takes no memo and ignores it.
    const marker = new b.marker.RunningMarker(sql, heartbeats.reports);
    const timed = async (stage: Stage, fn: () => Promise<unknown>) => {
      const t0 = backendCpuUs(pid);
      const c0 = processCpuUs();
      await fn();
      own.set(stage, own.get(stage)! + processCpuUs() - c0);
      spent.set(stage, spent.get(stage)! + backendCpuUs(pid) - t0);
    };
    const relay = async () => {
      while ((await store.sequenceEvents(sql)) > 0);
      await sql.begin(async (tx) => {
        for (;;) {
          const batch = await store.unpublishedEvents(tx, 500);
          if (batch.length === 0) return;
          await store.markPublished(tx, batch.at(-1)!.seq);
        }
      });
    };
    // Every node reconciled once, so later beats find their memos; the set-up's events published.
    await beatAll(names);
    await beatAll(names);
    await relay();
    const watch = process.argv.includes("--statements") ? store.connect(db.url, { max: 1 }) : undefined;
    const st0 = watch && (await enableStatements(watch)) ? await snapshot(watch) : undefined;
    const rnd = prng(42);
    for (let round = 0; round < ROUNDS; round++) {
      const nodes = new Set<string>();
      while (nodes.size < BATCH) nodes.add(names[Math.floor(rnd() * NODES)]!);
      // The nodes' beats before (not counted): a fleet's nodes beat every few seconds, so each is
      // fresh in the memo and checked in full within 30 s; at 5,000 nodes a node drawn here was
      // otherwise last heard at the set-up, and its beat after the create reconciled for that alone.
      await beatAll([...nodes]);
      // One single create a node, each VM with a spec object of its own (as each CreateVms has).
      const name = `single-${round}`;
      const placed = together([...nodes].map((node) => placedRequest([node], 4096, { vcpus: 2, diskGib: 20, name, spec: { name, vcpus: 2 } })));
      const held = HELD_SLOTS && "commitPlacementsWithNodes" in store;
      const audit = placed.vms.map((p) => ({ verb: "create_vms", tokenId: "", role: "admin", project: "default", method: "/drover.v1.VmService/CreateVms", target: p.id, result: "OK", message: "" }));
      await timed("create", () =>
        held
          ? store.commitPlacementsWithNodes(sql, { ...placed, vms: placed.vms.map((v) => ({ ...v, leaseMs: 60_000 })), audit })
          : store.commitPlacements(sql, { ...placed, audit }),
      );
      let leased: { id: string }[] = held ? placed.vms : [];
      if (!held) await timed("lease", async () => (leased = await store.takeDueProvisioning(sql, 256, 60_000, 4)));
      if (leased.length !== BATCH) throw new Error(`${b.label}: leased ${leased.length} of ${BATCH}`);
      await timed("running", () => Promise.all(leased.map((v) => marker.mark(v.id, 1))));
      await timed("relay", relay);
      for (const p of placed.vms) domains.set(p.node, [...(domains.get(p.node) ?? []), { vmId: p.id, state: "running", generation: 1 }]);
      await timed("beat + reconcile", () => beatAll([...nodes]));
      await timed("beat (fast path)", () => beatAll([...nodes]));
      await timed("fold", () => store.foldVmChanges(sql));
    }
    const [check] = await sql<{ running: number }[]>`SELECT count(*)::int AS running FROM vms WHERE state = 'RUNNING'`;
    if (check!.running !== ROUNDS * BATCH + NODES * RUNNING_PER_NODE) throw new Error(`${b.label}: ${check!.running} RUNNING of ${ROUNDS * BATCH + NODES * RUNNING_PER_NODE}`);
    const vms = ROUNDS * BATCH;
    if (watch && st0) {
      await settle();
      console.log(`${b.label}: statements per VM\n${report(st0, await snapshot(watch), vms, 30)}`);
    }
    await watch?.end();
    const perVm = (m: Map<Stage, number>) => new Map([...m].map(([s, us]) => [s, us / vms]));
    return { pg: perVm(spent), own: perVm(own) };
  } finally {
    await sql.end();
    await db.drop();
  }
}

async function main(): Promise<void> {
  const builds = [await load(requiredBeforeDir(), "before"), await load(".", "after")];
  const rows: string[] = [];
  const ownRows: string[] = [];
  const line = (label: string, m: Map<Stage, number>) => `| ${label} | ${STAGES.map((s) => m.get(s)!.toFixed(0)).join(" | ")} | **${[...m.values()].reduce((a, v) => a + v, 0).toFixed(0)}** |`;
  for (let i = 0; i < PAIRS; i++) {
    // ABBA: before, after, after, before, ...
    const order = i % 2 === 0 ? builds : [...builds].reverse();
    for (const b of order) {
      const m = await measure(b);
      rows.push(line(`${b.label} (${i + 1})`, m.pg));
      ownRows.push(line(`${b.label} (${i + 1})`, m.own));
      console.log(rows.at(-1), ownRows.at(-1));
    }
  }
  for (const [what, table] of [["Postgres backend CPU", rows], ["this process's CPU (the scheduler's side)", ownRows]] as const) {
    console.log(`\n${what} per VM (µs), ${NODES} nodes with ${RUNNING_PER_NODE} RUNNING VMs each, ${ROUNDS} rounds of ${BATCH} VMs\n`);
    console.log(`| build | ${STAGES.join(" | ")} | total |`);
    console.log(`|---|${STAGES.map(() => "---").join("|")}|---|`);
    for (const r of table) console.log(r);
  }
}

await main();
