// Packing quality of the engine's pack strategy against first-fit-decreasing and the lower bound.
//   node --import tsx benchmarks/packing.ts [--instances=20]
// Identical hosts (C vCPUs, M MiB), random 2-D (CPU, memory) requests in a few size classes. The
// engine gets as many empty READY hosts as there are VMs (so it can never run out) and places the
// whole instance in one placeBatch call; we count the hosts it used. "LB+" is a tighter valid
// bound (packing-bound.ts) that shows how far from the true optimum each class can be.
import { placeBatch, type NodeSnapshot, type VmRequest } from "../packages/placement/src/index.js";
import { prng, table } from "./common.js";
import { numberFlag } from "./flags.js";
import { tighterBound, type Req } from "./packing-bound.js";

const INSTANCES = numberFlag("instances", 20);
const C = 64; // vCPUs per host
const M = 256 * 1024; // MiB per host

interface Class {
  name: string;
  vms: number;
  draw: (rnd: () => number) => Req;
}

const int = (rnd: () => number, lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo + 1));
const GIB = 1024;

const CLASSES: Class[] = [
  { name: "small (1-4 vCPU, 1-16 GiB)", vms: 2000, draw: (r) => ({ cpu: int(r, 1, 4), mem: int(r, 1, 16) * GIB }) },
  { name: "mixed (1-32 vCPU, 1-128 GiB)", vms: 500, draw: (r) => ({ cpu: int(r, 1, 32), mem: int(r, 1, 128) * GIB }) },
  {
    name: "typical flavors",
    vms: 600,
    draw: (r) => {
      const f = [[1, 2], [2, 4], [2, 8], [4, 8], [4, 16], [8, 32], [16, 64], [32, 128]][int(r, 0, 7)]!;
      return { cpu: f[0]!, mem: f[1]! * GIB };
    },
  },
  { name: "large (1/4-1/2 host)", vms: 200, draw: (r) => ({ cpu: int(r, 16, 32), mem: int(r, 64, 128) * GIB }) },
  {
    name: "anti-correlated (cpu- or mem-heavy)",
    vms: 400,
    draw: (r) => (r() < 0.5 ? { cpu: int(r, 8, 24), mem: int(r, 4, 32) * GIB } : { cpu: int(r, 1, 6), mem: int(r, 32, 96) * GIB }),
  },
];

/** Dominant share on one host, as the engine's placement order uses (identical hosts: same ranking). */
const size = (q: Req) => Math.max(q.cpu / C, q.mem / M);

function lowerBound(reqs: Req[]): number {
  let cpu = 0;
  let mem = 0;
  for (const q of reqs) {
    cpu += q.cpu;
    mem += q.mem;
  }
  return Math.max(Math.ceil(cpu / C), Math.ceil(mem / M));
}

/** First-fit decreasing: same order as the engine (dominant share, then key), hosts in fixed order. */
function ffd(reqs: Req[], keys: string[]): number {
  const order = reqs.map((q, i) => ({ q, key: keys[i]!, s: size(q) }));
  order.sort((a, b) => b.s - a.s || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const cpu: number[] = [];
  const mem: number[] = [];
  for (const { q } of order) {
    let h = 0;
    while (h < cpu.length && (cpu[h]! + q.cpu > C || mem[h]! + q.mem > M)) h++;
    if (h === cpu.length) {
      cpu.push(0);
      mem.push(0);
    }
    cpu[h]! += q.cpu;
    mem[h]! += q.mem;
  }
  return cpu.length;
}

/** Hosts the engine used, and the milliseconds of the placeBatch call. */
function engine(reqs: Req[], keys: string[], seed: string): { hosts: number; ms: number } {
  const nodes: NodeSnapshot[] = reqs.map((_, i) => ({
    name: `h${String(i).padStart(5, "0")}`,
    state: "READY",
    capacity: { vcpus: C, memoryMib: M, diskGib: 1000 },
    reserved: { vcpus: 0, memoryMib: 0, diskGib: 0 },
    ratios: { cpu: 1, memory: 1, disk: 1 },
    allocated: { vcpus: 0, memoryMib: 0, diskGib: 0 },
    labels: {},
    groups: {},
  }));
  const vms: VmRequest[] = reqs.map((q, i) => ({ key: keys[i]!, resources: { vcpus: q.cpu, memoryMib: q.mem, diskGib: 0 }, constraints: [], preferences: [] }));
  const t0 = performance.now();
  const r = placeBatch(nodes, vms, { strategy: "pack", seed });
  const ms = performance.now() - t0;
  if (r.unplaced.length > 0) throw new Error(`engine left ${r.unplaced.length} VMs unplaced`);
  return { hosts: new Set(r.placements.map((p) => p.node)).size, ms };
}

const f3 = (x: number) => x.toFixed(3);
const rows: (string | number)[][] = [];
let worse = 0;
let total = 0;
let sumE = 0;
const t0 = performance.now();
for (const [ci, cls] of CLASSES.entries()) {
  const e: number[] = [];
  const f: number[] = [];
  const tight: number[] = [];
  const tightE: number[] = [];
  const ms: number[] = [];
  let engineWorse = 0;
  let engineBetter = 0;
  for (let k = 0; k < INSTANCES; k++) {
    const rnd = prng(1_000 * ci + k);
    const reqs = Array.from({ length: cls.vms }, () => cls.draw(rnd));
    const keys = reqs.map((_, i) => `vm-${String(i).padStart(5, "0")}`);
    const lb = lowerBound(reqs);
    const lb2 = tighterBound(reqs, C, M);
    const { hosts: he, ms: t } = engine(reqs, keys, `inst-${ci}-${k}`);
    const hf = ffd(reqs, keys);
    e.push(he / lb);
    f.push(hf / lb);
    tight.push(lb2 / lb);
    tightE.push(he / lb2);
    ms.push(t);
    if (he > hf) engineWorse++;
    if (he < hf) engineBetter++;
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  rows.push([
    cls.name,
    cls.vms,
    INSTANCES,
    f3(mean(e)),
    f3(Math.max(...e)),
    f3(mean(f)),
    f3(Math.max(...f)),
    f3(mean(tight)),
    f3(mean(tightE)),
    engineWorse,
    engineBetter,
    mean(ms).toFixed(0),
  ]);
  worse += engineWorse;
  total += INSTANCES;
  sumE += e.reduce((a, b) => a + b, 0);
}
console.log(`hosts: ${C} vCPUs / ${M / GIB} GiB each; ${INSTANCES} seeded instances per class; node ${process.version}`);
console.log(
  table(
    ["class", "VMs", "instances", "engine/LB mean", "engine/LB max", "FFD/LB mean", "FFD/LB max", "LB+/LB mean", "engine/LB+ mean", "engine > FFD", "engine < FFD", "ms/instance"],
    rows,
  ),
);
console.log(`overall: engine/LB mean ${f3(sumE / total)}; engine used more hosts than FFD on ${worse} of ${total} instances (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
