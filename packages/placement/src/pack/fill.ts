import { DIMS, type PackModel } from "./model.js";
import { fnv1a, tieBreak, vmHash } from "../seed.js";
import type { VmRequest } from "../types.js";

/** Skip the fill when (distinct VM sizes) × VMs exceeds this: each placement scans the sizes left. */
const MAX_WORK = 50_000_000;

/** A placement sequence: `order[i]` is the i-th VM placed, `nodeOf[v]` the node of VM v. */
export interface Assignment {
  order: Int32Array;
  nodeOf: Int32Array;
}

/**
 * Bin-centric fill (Panigrahy et al., "Heuristics for Vector Bin Packing", 2011): fill one node at a
 * time, always adding the VM whose demand best matches the node's free room (largest dot product of
 * the two, each resource weighted by the batch's demand for it), until nothing more fits; then open
 * the next. Item-centric best fit takes VMs in a fixed order and cannot pair a CPU-heavy VM with a
 * memory-heavy one on purpose; this does (anti-correlated mixes: 1.065 -> ~1.03 × the lower bound).
 * The first VM of each node is the largest left (sum of weighted shares) on its best-fit node, so
 * partly used nodes are topped up before empty ones are opened. VMs of equal size are
 * interchangeable and are taken in key order. Returns null when some VM fits nowhere (the other
 * candidates then explain it) or the batch is too diverse to be worth the scan.
 */
export function binCentricFill(model: PackModel, vms: readonly VmRequest[], needs: Float64Array, seed: string): Assignment | null {
  const w = new Float64Array(DIMS);
  for (let v = 0; v < vms.length; v++) for (let d = 0; d < DIMS; d++) w[d]! += needs[v * DIMS + d]!;
  for (let d = 0; d < DIMS; d++) w[d] = model.total[d]! > 0 ? w[d]! / model.total[d]! : 0;

  const types = sizeClasses(vms, needs, (v) => {
    let s = 0;
    for (let d = 0; d < DIMS; d++) if (model.total[d]! > 0) s += (w[d]! * needs[v * DIMS + d]!) / model.total[d]!;
    return s;
  });
  if (types.length * vms.length > MAX_WORK) return null;

  const order = new Int32Array(vms.length);
  const nodeOf = new Int32Array(vms.length).fill(-1);
  let placed = 0;
  let first = 0; // types before it are used up
  const place = (t: SizeClass, h: number) => {
    const v = t.vms[t.next++]!;
    model.add(h, needs, v, 1);
    nodeOf[v] = h;
    order[placed++] = v;
  };
  const nameHash = new Map<number, number>();
  const hashOf = (h: number) => {
    let x = nameHash.get(h);
    if (x === undefined) nameHash.set(h, (x = fnv1a(model.nodes[h]!.name)));
    return x;
  };

  while (placed < vms.length) {
    while (types[first]!.next === types[first]!.vms.length) first++;
    const opener = types[first]!;
    const h = bestFitNode(model, needs, opener.vms[opener.next]!, vmHash(seed, vms[opener.vms[opener.next]!]!.key), hashOf);
    if (h < 0) return null;
    place(opener, h);
    for (;;) {
      let best: SizeClass | null = null;
      let bestDot = -1;
      for (let i = first; i < types.length; i++) {
        const t = types[i]!;
        if (t.next === t.vms.length || !model.fits(h, needs, t.vms[t.next]!)) continue;
        const dot = model.alignment(h, needs, t.vms[t.next]!, w);
        if (dot > bestDot) {
          best = t;
          bestDot = dot;
        }
      }
      if (best === null) break;
      place(best, h);
    }
  }
  return { order, nodeOf };
}

/** VMs of one exact request size, in key order; `next` is the first not placed yet. */
interface SizeClass {
  vms: number[];
  size: number;
  key: string;
  next: number;
}

/** Groups the VMs by request, largest size first (ties by the smallest key, so the order replays). */
function sizeClasses(vms: readonly VmRequest[], needs: Float64Array, size: (v: number) => number): SizeClass[] {
  const byReq = new Map<string, SizeClass>();
  for (let v = 0; v < vms.length; v++) {
    const id = `${needs[v * DIMS]}/${needs[v * DIMS + 1]}/${needs[v * DIMS + 2]}`;
    let t = byReq.get(id);
    if (t === undefined) byReq.set(id, (t = { vms: [], size: size(v), key: vms[v]!.key, next: 0 }));
    t.vms.push(v);
    if (vms[v]!.key < t.key) t.key = vms[v]!.key;
  }
  const types = [...byReq.values()];
  for (const t of types) t.vms.sort((a, b) => (vms[a]!.key < vms[b]!.key ? -1 : 1));
  types.sort((a, b) => b.size - a.size || (a.key < b.key ? -1 : 1));
  return types;
}

/**
 * The node the pack scorer would pick for VM v (fullest after placement by mean used CPU and memory
 * share, ties by the engine's seeded hash), or -1 when none fits.
 */
function bestFitNode(model: PackModel, needs: Float64Array, v: number, vmH: number, hashOf: (h: number) => number): number {
  let best = -1;
  let bestScore = -1;
  let bestTie = -1;
  for (let h = 0; h < model.n; h++) {
    if (!model.fits(h, needs, v)) continue;
    const score = model.packScore(h, needs, v);
    if (score > bestScore) {
      best = h;
      bestScore = score;
      bestTie = -1;
    } else if (score === bestScore) {
      if (bestTie < 0) bestTie = tieBreak(vmH, hashOf(best));
      const t = tieBreak(vmH, hashOf(h));
      if (t > bestTie) {
        best = h;
        bestTie = t;
      }
    }
  }
  return best;
}
