// Engine speed: decisions per second and per-decision latency of the pure placement engine.
//   node --import tsx benchmarks/engine.ts [--hosts=1000,10000,50000] [--rounds=3] [--time=0.5] [--batch=1000]
//     [--strategies=spread,pack] [--limits=all,64,default] [--inputs=array,list] [--bulk=10000 --bulk-hosts=1000]
// --inputs: how the single-VM path hands the nodes over: a plain array whose changed snapshots are
// replaced (the engine checks every node for changes), or a NodeList (the scheduler's node cache:
// the engine reads the positions that changed from its log). Default: list.
// --bulk: also one placeBatch of that many 1 vCPU / 1 GiB VMs (the API benchmark's bulk CreateVms) with the
// default candidate limit, i.e. the engine's share of a bulk create.
// --cpu-latency: also the CPU time of each single-VM call (process.cpuUsage around it, µs resolution), p50 and
// p99: on a shared machine the wall-clock latency mostly measures waiting for a core. The two extra cpuUsage calls
// per decision then count in dec/CPU-s too, so take that column from a run without the flag.
// One process, one thread: numbers are for one core. Each cell is the median over --rounds rounds,
// each round on a fresh copy of the same seeded cluster.
import { defaultMaxCandidates, NodeList, placeBatch, type NodeSnapshot, type PlacementOptions, type Resources, type Strategy } from "../packages/placement/src/index.js";
import { book, makeCluster, makeVms, median, quantile, table } from "./common.js";
import { flag, numberFlag } from "./flags.js";

const HOSTS = (flag("hosts") ?? "1000,10000,50000").split(",").map(Number).filter((h) => h > 0); // --hosts=0: bulk only
const ROUNDS = numberFlag("rounds", 3);
const TIME_S = numberFlag("time", 0.5); // measuring budget of the single-VM path per round
const BATCH = numberFlag("batch", 1000);
const STRATEGIES = (flag("strategies") ?? "spread,pack").split(",") as Strategy[];
const LIMITS = (flag("limits") ?? "all,64,default").split(",");
const INPUTS = (flag("inputs") ?? "list").split(",") as Input[];
const BULK = numberFlag("bulk", 0);
const BULK_HOSTS = numberFlag("bulk-hosts", 1000);
const CPU_LATENCY = process.argv.includes("--cpu-latency");
const GOAL_RATE = 50_000;
const GOAL_P99_MS = 0.5;

type Limit = { label: string; value: number | undefined };
type Input = "array" | "list";

function limits(strategy: Strategy, hosts: number): Limit[] {
  const d = defaultMaxCandidates(strategy, hosts);
  const all: Record<string, Limit> = {
    all: { label: "all", value: undefined },
    "64": { label: "64", value: 64 },
    default: { label: `default (${d ?? "all"})`, value: d },
  };
  return LIMITS.map((l) => all[l] ?? { label: l, value: Number(l) });
}

const ns = () => process.hrtime.bigint();

/** The caller's nodes, as an array or a NodeList: replacing a snapshot goes through `set`. */
interface Caller {
  input: NodeSnapshot[] | NodeList;
  get(i: number): NodeSnapshot;
  set(i: number, s: NodeSnapshot): void;
}

function caller(start: readonly NodeSnapshot[], input: Input): Caller {
  if (input === "list") {
    const list = new NodeList(start);
    return { input: list, get: (i) => list.snapshots[i]!, set: (i, s) => list.set(i, s) };
  }
  const nodes = start.slice();
  return { input: nodes, get: (i) => nodes[i]!, set: (i, s) => (nodes[i] = s) };
}

/** Applies a placement to the caller's snapshot (not timed); returns the node's index. */
function apply(c: Caller, byName: Map<string, number>, node: string, r: Resources): number {
  const i = byName.get(node)!;
  const one = [c.get(i)];
  book(one, 0, r);
  c.set(i, one[0]!);
  return i;
}

interface Round {
  rate: number;
  /** Decisions per second of CPU time the process used while measuring: on a loaded machine the wall clock also counts time the process waited for a core. */
  cpuRate: number;
  p50: number;
  p99: number;
  /** CPU time per call in ms, with --cpu-latency (else NaN). */
  cpuP50: number;
  cpuP99: number;
  batchRate: number;
}

// The single-VM path books every placement into the caller's snapshot (as the store would) and
// starts again from the base cluster every RESET decisions, so every configuration sees about the
// same fill level whatever its speed. The reset puts back the starting snapshots of the nodes it
// booked (like the scheduler's node cache, which replaces only the snapshots that changed), rather
// than cloning the whole cluster, whose garbage would land in the timed calls.
const RESET = 2000;

function round(base: NodeSnapshot[], strategy: Strategy, limit: number | undefined, input: Input, r: number): Round {
  const start = structuredClone(base);
  const nodes = caller(start, input);
  const booked = new Set<number>();
  const byName = new Map(start.map((n, i) => [n.name, i]));
  const opts = (seed: string): PlacementOptions => (limit === undefined ? { strategy, seed } : { strategy, seed, maxCandidates: limit });

  // Single-VM path: one placeBatch call per VM, the way the scheduler serves one CreateVm request.
  const vms = makeVms(200_000, 1000 + r, `r${r}`);
  let v = 0;
  let cpuLat: number[] = [];
  const one = () => {
    if (v % RESET === RESET - 1) {
      for (const i of booked) nodes.set(i, start[i]!);
      booked.clear();
    }
    const vm = vms[v++]!;
    const u0 = CPU_LATENCY ? process.cpuUsage() : undefined;
    const t0 = ns();
    const res = placeBatch(nodes.input, [vm], opts(vm.key));
    const dt = Number(ns() - t0);
    if (u0 !== undefined) {
      const u = process.cpuUsage(u0);
      cpuLat.push(u.user + u.system);
    }
    const p = res.placements[0];
    if (p) booked.add(apply(nodes, byName, p.node, vm.resources));
    return { dt, placed: p !== undefined };
  };
  const warm = Math.max(50, Math.min(2000, Math.round(2e8 / (start.length * 100))));
  for (let i = 0; i < warm; i++) one();
  const lat: number[] = [];
  cpuLat = [];
  let total = 0;
  const cpu0 = process.cpuUsage();
  while ((total < TIME_S * 1e9 || lat.length < 200) && lat.length < 100_000) {
    const { dt } = one();
    lat.push(dt);
    total += dt;
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuRate = lat.length / ((cpu.user + cpu.system) / 1e6);
  lat.sort((a, b) => a - b);
  cpuLat.sort((a, b) => a - b);

  // Batch path: one placeBatch call with BATCH VMs on the base cluster (median of 3 calls, after one warm-up call).
  const fresh = structuredClone(base);
  const batch = makeVms(BATCH, 77 + r, `b${r}`);
  placeBatch(fresh, batch, opts("warm"));
  const rates: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = ns();
    const res = placeBatch(fresh, batch, opts(`batch-${i}`));
    const dt = Number(ns() - t0);
    rates.push(res.placements.length / (dt / 1e9));
  }
  return { rate: lat.length / (total / 1e9), cpuRate, p50: quantile(lat, 0.5) / 1e6, p99: quantile(lat, 0.99) / 1e6, cpuP50: quantile(cpuLat, 0.5) / 1e3, cpuP99: quantile(cpuLat, 0.99) / 1e3, batchRate: median(rates) };
}

const fmtRate = (x: number) => (x >= 100_000 ? `${(x / 1000).toFixed(0)}k` : x >= 10_000 ? `${(x / 1000).toFixed(1)}k` : x.toFixed(0));
const fmtMs = (x: number) => (x < 0.1 ? x.toFixed(4) : x < 10 ? x.toFixed(3) : x.toFixed(1));

console.log(`node ${process.version}, ${process.arch}; rounds=${ROUNDS}, single-VM measuring time ${TIME_S}s/round, batch=${BATCH} VMs`);
const rows: (string | number)[][] = [];
for (const hosts of HOSTS) {
  const base = makeCluster(hosts, 42);
  for (const strategy of STRATEGIES) {
    for (const { label, value } of limits(strategy, hosts)) {
      // The inputs' rounds interleave, so a burst of load on a shared machine hits both alike.
      const byInput = new Map<Input, Round[]>(INPUTS.map((i) => [i, []]));
      for (let r = 0; r < ROUNDS; r++) for (const input of INPUTS) byInput.get(input)!.push(round(base, strategy, value, input, r));
      for (const [input, rs] of byInput) {
        const rate = median(rs.map((x) => x.rate));
        const cpuRate = median(rs.map((x) => x.cpuRate));
        const p50 = median(rs.map((x) => x.p50));
        const p99 = median(rs.map((x) => x.p99));
        const batchRate = median(rs.map((x) => x.batchRate));
        const cpuP50 = median(rs.map((x) => x.cpuP50));
        const cpuP99 = median(rs.map((x) => x.cpuP99));
        const meets = rate >= GOAL_RATE && p99 <= GOAL_P99_MS;
        const row = [hosts, strategy, label, input, fmtRate(rate), fmtRate(cpuRate), fmtMs(p50), fmtMs(p99), ...(CPU_LATENCY ? [fmtMs(cpuP50), fmtMs(cpuP99)] : []), fmtRate(batchRate), meets ? "yes" : "no", batchRate >= GOAL_RATE ? "yes" : "no"];
        rows.push(row);
        console.error(row.join("  "));
      }
    }
  }
}
console.log(
  table(
    ["hosts", "strategy", "maxCandidates", "nodes as", "single dec/s", "dec/CPU-s", "p50 ms", "p99 ms", ...(CPU_LATENCY ? ["CPU p50 ms", "CPU p99 ms"] : []), `batch(${BATCH}) dec/s`, "single meets goal", "batch ≥ 50k/s"],
    rows,
  ),
);
console.log(`goal: ≥ ${GOAL_RATE} decisions/s and p99 ≤ ${GOAL_P99_MS} ms per decision (single-VM path)`);

if (BULK > 0) {
  console.log(`bulk: one placeBatch of ${BULK} VMs (1 vCPU / 1 GiB / 20 GiB) on ${BULK_HOSTS} hosts, median of ${ROUNDS} calls after one warm-up`);
  const base = makeCluster(BULK_HOSTS, 42);
  const vms = Array.from({ length: BULK }, (_, i) => ({ key: `bulk-${i}`, resources: { vcpus: 1, memoryMib: 1024, diskGib: 20 }, constraints: [], preferences: [] }));
  const bulkRows: (string | number)[][] = [];
  for (const strategy of STRATEGIES) {
    const d = defaultMaxCandidates(strategy, BULK_HOSTS);
    const opts: PlacementOptions = d === undefined ? { strategy, seed: "bulk" } : { strategy, seed: "bulk", maxCandidates: d };
    const ms: number[] = [];
    let placed = 0;
    for (let r = 0; r < 1 + ROUNDS; r++) {
      const nodes = structuredClone(base); // a fresh array each call, as after the scheduler reads its nodes again
      const t0 = ns();
      placed = placeBatch(nodes, vms, opts).placements.length;
      if (r > 0) ms.push(Number(ns() - t0) / 1e6); // the first call warms up the JIT
    }
    const m = median(ms);
    bulkRows.push([BULK_HOSTS, strategy, `default (${d ?? "all"})`, BULK, placed, fmtMs(m), fmtRate(placed / (m / 1000))]);
  }
  console.log(table(["hosts", "strategy", "maxCandidates", "VMs", "placed", "ms per call", "placements/s"], bulkRows));
}
