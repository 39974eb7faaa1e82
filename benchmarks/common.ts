// Shared helpers of the benchmarks: a seeded PRNG, a synthetic cluster, and summary statistics.
import type { NodeSnapshot, NodeState, Resources, VmRequest } from "../packages/placement/src/index.js";

/** mulberry32: tiny seeded PRNG, so every run of a benchmark sees the same cluster and requests. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const pick = <T>(rnd: () => number, xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;

const GIB = 1024;

/**
 * Heterogeneous hosts: 16/32/64/128 vCPUs, 64–1024 GiB, 1–8 TB disk, CPU over-commit 1–4×,
 * 0–60 % already allocated, ~2 % not READY, zone a/b/c.
 */
export function makeCluster(n: number, seed: number): NodeSnapshot[] {
  const rnd = prng(seed);
  const nodes: NodeSnapshot[] = [];
  for (let i = 0; i < n; i++) {
    const vcpus = pick(rnd, [16, 32, 64, 128]);
    const memoryMib = pick(rnd, [64, 128, 256, 512, 768, 1024]) * GIB;
    const diskGib = pick(rnd, [1000, 2000, 4000, 8000]);
    const ratios = { cpu: pick(rnd, [1, 2, 4]), memory: pick(rnd, [1, 1, 1.2]), disk: 1 };
    const reserved = { vcpus: 2, memoryMib: 4 * GIB, diskGib: 50 };
    const load = rnd() * 0.6;
    const alloc = (cap: number, ratio: number, res: number) => Math.floor(Math.max(0, Math.floor(cap * ratio) - res) * load * (0.7 + 0.6 * rnd()));
    const r = rnd();
    const state: NodeState = r < 0.01 ? "CORDONED" : r < 0.015 ? "DRAINING" : r < 0.02 ? "DOWN" : "READY";
    nodes.push({
      name: `host-${String(i).padStart(5, "0")}`,
      state,
      capacity: { vcpus, memoryMib, diskGib },
      reserved,
      ratios,
      allocated: {
        vcpus: Math.min(alloc(vcpus, ratios.cpu, reserved.vcpus), Math.floor(vcpus * ratios.cpu) - reserved.vcpus),
        memoryMib: alloc(memoryMib, ratios.memory, reserved.memoryMib),
        diskGib: alloc(diskGib, 1, reserved.diskGib),
      },
      labels: { zone: pick(rnd, ["a", "b", "c"]), rack: `r${i % 40}` },
      groups: {},
    });
  }
  return nodes;
}

/** Typical requests: 1–16 vCPUs, 1–64 GiB, 20–200 GiB disk, no constraints (the common path). */
export function makeVms(n: number, seed: number, prefix = "vm"): VmRequest[] {
  const rnd = prng(seed);
  const vms: VmRequest[] = [];
  for (let i = 0; i < n; i++) {
    vms.push({
      key: `${prefix}-${i}`,
      resources: { vcpus: pick(rnd, [1, 2, 2, 4, 4, 8, 16]), memoryMib: pick(rnd, [1, 2, 4, 8, 16, 32, 64]) * GIB, diskGib: pick(rnd, [20, 50, 100, 200]) },
      constraints: [],
      preferences: [],
    });
  }
  return vms;
}

export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Fixed-width text table. */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const w = head.map((_, c) => Math.max(...cells.map((r) => r[c]!.length)));
  const line = (r: string[]) => "| " + r.map((x, c) => (c === 0 ? x.padEnd(w[c]!) : x.padStart(w[c]!))).join(" | ") + " |";
  return [line(head), "|" + w.map((x) => "-".repeat(x + 2)).join("|") + "|", ...cells.slice(1).map(line)].join("\n");
}

/**
 * Books a placement into the caller's node array, as the store would after the claim: node i's
 * snapshot is replaced by one whose `allocated` includes the VM (like the scheduler's node cache).
 */
export function book(nodes: NodeSnapshot[], i: number, r: Resources): void {
  const n = nodes[i]!;
  nodes[i] = { ...n, allocated: { vcpus: n.allocated.vcpus + r.vcpus, memoryMib: n.allocated.memoryMib + r.memoryMib, diskGib: n.allocated.diskGib + r.diskGib } };
}
