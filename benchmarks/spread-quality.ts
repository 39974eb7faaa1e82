// Spread quality versus candidate sampling: what do we lose by scoring `maxCandidates` feasible nodes
// (in the engine's seeded per-VM order) instead of every node?
//   node --import tsx benchmarks/spread-quality.ts [--hosts=1000,10000] [--fills=25,50] [--limits=all,128,64,32,16] [--every=50] [--seed=42]
//
// For each cluster size (makeCluster, seed 42) and candidate limit, VMs are placed one at a time exactly
// like the scheduler's single-VM path: one placeBatch call per VM, strategy "spread", seed = VM key,
// and each placement booked into the node array by replacing that node's snapshot (as the store and the
// scheduler's node cache would). Every limit gets the same VM sequence (makeVms); the run stops at
// fixed VM counts: the shortest prefix whose requested vCPUs reach --fills % of the cluster's initially free
// allocatable CPU on READY nodes. --seed picks the cluster (default 42; the VMs use seed + 7). Quality is measured over READY nodes at each of those points.
//
// Every --every-th placed decision is also ranked against ALL feasible nodes at that moment: the share of
// feasible nodes whose spread score is strictly higher than the chosen node's (0 % = the true best).
// For the best of k uniformly random feasible nodes that share is about 1/(k+1) on average.
import {
  FILTERS,
  WorkingNode,
  allocatable,
  getScorer,
  placeBatch,
  type BatchState,
  type NodeSnapshot,
  type PlacementOptions,
  type VmRequest,
} from "../packages/placement/src/index.js";
import { book, makeCluster, makeVms, quantile, table } from "./common.js";
import { flag, numberFlag } from "./flags.js";

const HOSTS = (flag("hosts") ?? "1000,10000").split(",").map(Number);
const FILLS = (flag("fills") ?? "25,50").split(",").map(Number); // % of the initially free CPU requested
const LIMITS = (flag("limits") ?? "all,128,64,32,16").split(",").map((x) => (x === "all" ? undefined : Number(x)));
const EVERY = numberFlag("every", 50); // rank every N-th decision against every feasible node
const CLUSTER_SEED = numberFlag("seed", 42);
const VM_SEED = CLUSTER_SEED + 7;

const spread = getScorer("spread");

/** Population coefficient of variation (stddev / mean) and max of xs. */
function cvMax(xs: readonly number[]): { cv: number; max: number } {
  let sum = 0;
  let max = -Infinity;
  for (const x of xs) {
    sum += x;
    if (x > max) max = x;
  }
  const mean = sum / xs.length;
  let ss = 0;
  for (const x of xs) ss += (x - mean) ** 2;
  return { cv: Math.sqrt(ss / xs.length) / mean, max };
}

/** Per-node CPU and memory utilization (allocated / allocatable) over READY nodes. */
function quality(nodes: readonly NodeSnapshot[]) {
  const cpu: number[] = [];
  const mem: number[] = [];
  for (const n of nodes) {
    if (n.state !== "READY") continue;
    const a = allocatable(n);
    if (a.vcpus > 0) cpu.push(n.allocated.vcpus / a.vcpus);
    if (a.memoryMib > 0) mem.push(n.allocated.memoryMib / a.memoryMib);
  }
  return { cpu: cvMax(cpu), mem: cvMax(mem) };
}

/**
 * Share of the feasible nodes (per the engine's own filters) whose spread score beats the chosen node's.
 * `work` mirrors `nodes` as working nodes, so this is a plain scan with the engine's scorer (same floats).
 */
function rankOf(work: readonly WorkingNode[], state: BatchState, chosen: number, vm: VmRequest): number {
  const s = spread.score(work[chosen]!, vm, state);
  let feasible = 0;
  let better = 0;
  for (const w of work) {
    if (FILTERS.some((f) => f.filter(w, vm, state) !== null)) continue;
    feasible++;
    if (spread.score(w, vm, state) > s) better++;
  }
  return better / feasible;
}

interface Checkpoint {
  offered: number;
  unplaced: number;
  q: ReturnType<typeof quality>;
  ranks: number[];
  rate: number;
}

/** Places vms[0 .. cuts[last]) one by one and records the cluster's quality after each cut. */
function run(base: readonly NodeSnapshot[], vms: readonly VmRequest[], cuts: readonly number[], limit: number | undefined): Checkpoint[] {
  const nodes = base.slice(); // snapshots are never mutated, only replaced
  const byName = new Map(nodes.map((n, i) => [n.name, i]));
  const work = nodes.map((n, i) => new WorkingNode(i, n));
  const state: BatchState = { nodes: work, affinityAnchor: new Map() };
  const out: Checkpoint[] = [];
  const ranks: number[] = [];
  let unplaced = 0;
  let ns = 0n; // time inside placeBatch only
  let c = 0;
  for (let v = 0; v < cuts[cuts.length - 1]!; v++) {
    const vm = vms[v]!;
    const opts: PlacementOptions = limit === undefined ? { strategy: "spread", seed: vm.key } : { strategy: "spread", seed: vm.key, maxCandidates: limit };
    const t0 = process.hrtime.bigint();
    const p = placeBatch(nodes, [vm], opts).placements[0];
    ns += process.hrtime.bigint() - t0;
    if (p === undefined) unplaced++;
    else {
      const i = byName.get(p.node)!;
      if (v % EVERY === 0) ranks.push(rankOf(work, state, i, vm));
      book(nodes, i, vm.resources);
      work[i]!.reset(i, nodes[i]!);
    }
    if (v + 1 === cuts[c]) {
      out.push({ offered: v + 1, unplaced, q: quality(nodes), ranks: [...ranks].sort((a, b) => a - b), rate: (v + 1) / (Number(ns) / 1e9) });
      c++;
    }
  }
  return out;
}

const pct = (x: number, d = 1) => `${(100 * x).toFixed(d)}%`;
const f3 = (x: number) => x.toFixed(3);
const rate = (x: number) => (x >= 10_000 ? `${(x / 1000).toFixed(0)}k` : x.toFixed(0));

const started = Date.now();
const rows: (string | number)[][] = [];
for (const hosts of HOSTS) {
  const base = makeCluster(hosts, CLUSTER_SEED);
  let freeCpu = 0;
  for (const n of base) if (n.state === "READY") freeCpu += Math.max(0, allocatable(n).vcpus - n.allocated.vcpus);
  // Same VMs for every limit; cut where the requested vCPUs first reach each fill level.
  const vms = makeVms(hosts * 40, VM_SEED);
  const cuts: number[] = [];
  let sum = 0;
  for (let v = 0, f = 0; v < vms.length && f < FILLS.length; v++) {
    sum += vms[v]!.resources.vcpus;
    while (f < FILLS.length && sum >= (FILLS[f]! / 100) * freeCpu) {
      cuts.push(v + 1);
      f++;
    }
  }
  if (cuts.length !== FILLS.length) throw new Error(`not enough VMs for ${hosts} hosts`);

  // Untimed warm-up of every limit, so dec/s is not dominated by JIT compilation on the small cluster.
  for (const limit of LIMITS) run(base, vms, [Math.min(cuts[0]!, 2000)], limit);

  const q0 = quality(base);
  rows.push([hosts, "0%", "(start)", 0, "", f3(q0.cpu.cv), pct(q0.cpu.max), f3(q0.mem.cv), pct(q0.mem.max), "", "", "", ""]);
  for (const limit of LIMITS) {
    const label = limit === undefined ? "all" : String(limit);
    const ideal = limit === undefined || limit >= hosts ? "0%" : pct(1 / (limit + 1), 2);
    const cps = run(base, vms, cuts, limit);
    cps.forEach((cp, k) => {
      const row = [
        hosts,
        `${FILLS[k]}%`,
        label,
        cp.offered,
        cp.unplaced,
        f3(cp.q.cpu.cv),
        pct(cp.q.cpu.max),
        f3(cp.q.mem.cv),
        pct(cp.q.mem.max),
        pct(cp.ranks.reduce((a, b) => a + b, 0) / cp.ranks.length, 2),
        pct(quantile(cp.ranks, 0.95), 2),
        ideal,
        rate(cp.rate),
      ];
      rows.push(row);
      console.error(row.join("  "));
    });
  }
}
console.log(
  `node ${process.version}; cluster seed ${CLUSTER_SEED}, VM seed ${VM_SEED}; utilization = allocated / allocatable over READY nodes; ` +
    `rank = share of feasible nodes scoring strictly higher than the chosen one, every ${EVERY}th decision up to that fill`,
);
console.log(
  table(
    ["hosts", "CPU fill", "maxCandidates", "VMs offered", "unplaced", "CPU CV", "CPU max", "mem CV", "mem max", "rank mean", "rank p95", "1/(k+1)", "dec/s"],
    rows,
  ),
);
console.log(`total ${((Date.now() - started) / 1000).toFixed(0)} s`);
