// A tighter lower bound on the hosts a 2-D (CPU, memory) instance needs, for benchmarks/packing.ts.
// The bound max(⌈ΣCPU/C⌉, ⌈Σmem/M⌉) is loose when VMs are big (a host holds only a few of
// them however the sums add up); this one shows how far from the true optimum each class is.

export type Req = { cpu: number; mem: number };

/**
 * max of: the bound; Martello–Toth L2 per dimension (VMs over half a host cannot share one,
 * and what is left of those hosts bounds how much of the middle-sized VMs they absorb); and a
 * cardinality bound. All are valid for any packing, so their max is too.
 */
export function tighterBound(reqs: readonly Req[], C: number, M: number): number {
  return Math.max(
    martelloTothL2(reqs.map((q) => q.cpu), C),
    martelloTothL2(reqs.map((q) => q.mem), M),
    cardinalityBound(reqs, C, M),
  );
}

/** Martello & Toth's L2 for 1-D bin packing (includes ⌈Σ/cap⌉ at threshold 0). */
export function martelloTothL2(sizes: readonly number[], cap: number): number {
  let best = 0;
  const thresholds = new Set<number>([0]);
  for (const s of sizes) if (2 * s <= cap) thresholds.add(s);
  for (const k of thresholds) {
    let big = 0; // > cap - k: nothing of size >= k fits beside them
    let half = 0; // in (cap/2, cap - k]: one per host
    let halfSum = 0;
    let rest = 0; // in [k, cap/2]
    for (const s of sizes) {
      if (s > cap - k) big++;
      else if (2 * s > cap) {
        half++;
        halfSum += s;
      } else if (s >= k) rest += s;
    }
    best = Math.max(best, big + half + Math.max(0, Math.ceil((rest - (half * cap - halfSum)) / cap)));
  }
  return best;
}

/**
 * Split any packing's hosts into those holding more than k VMs and those holding at most k. The first
 * kind holds some h VMs on at most h/(k+1) hosts, and those h VMs need at least as many hosts as the
 * h smallest would (per dimension, and by the sum of both shares, which a host caps at 2); the rest
 * need ⌈(n−h)/k⌉. Minimizing over h gives a bound for each k. It bites when VMs are large: with
 * ¼–½-host VMs few hosts can hold three, which the sums alone do not see.
 */
export function cardinalityBound(reqs: readonly Req[], C: number, M: number): number {
  const n = reqs.length;
  const prefix = (xs: number[]) => {
    xs.sort((a, b) => a - b);
    const p = [0];
    for (const x of xs) p.push(p[p.length - 1]! + x);
    return p;
  };
  const cpu = prefix(reqs.map((q) => q.cpu));
  const mem = prefix(reqs.map((q) => q.mem));
  const both = prefix(reqs.map((q) => q.cpu / C + q.mem / M));
  let best = 0;
  for (let k = 1; k <= n; k++) {
    let lo = Infinity;
    for (let h = 0; h <= n; h++) {
      // 1e-9: the shares are floating-point sums of exact fractions.
      const t = h === 0 ? 0 : Math.max(1, Math.ceil(cpu[h]! / C), Math.ceil(mem[h]! / M), Math.ceil(both[h]! / 2 - 1e-9));
      if (t * (k + 1) > h) continue; // h VMs cannot fill t hosts with more than k each
      lo = Math.min(lo, t + Math.ceil((n - h) / k));
    }
    best = Math.max(best, lo);
  }
  return best;
}
