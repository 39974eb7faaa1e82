import { allocatableOf } from "../resources.js";
import { packScore } from "../scorers/pack.js";
import type { NodeSnapshot, VmRequest } from "../types.js";

/** Resources per node / VM in the flat arrays below: cpu, memory, disk. */
export const DIMS = 3;

/**
 * Numbers-only view of the cluster for the passes that refine a pack batch (fill.ts, improve.ts):
 * free room per node in flat typed arrays, so trying thousands of moves allocates nothing.
 * `fits` mirrors the node-state, cpu, memory and disk filters; whatever these passes produce is
 * replayed through the real filters (replay.ts) before it is used, so the model cannot make a
 * placement invalid, only miss one.
 */
export class PackModel {
  readonly n: number;
  readonly ready: Uint8Array;
  /** Nothing allocated before the batch: the nodes a pack batch should open as few of as it can. */
  readonly emptyBefore: Uint8Array;
  readonly alloc: Float64Array;
  /** Allocated before the batch plus what the batch has put on the node so far. */
  readonly used: Float64Array;
  /** Allocatable of the READY nodes, per dimension. */
  readonly total = new Float64Array(DIMS);

  constructor(readonly nodes: readonly NodeSnapshot[]) {
    const n = nodes.length;
    this.n = n;
    this.ready = new Uint8Array(n);
    this.emptyBefore = new Uint8Array(n);
    this.alloc = new Float64Array(n * DIMS);
    this.used = new Float64Array(n * DIMS);
    for (let h = 0; h < n; h++) {
      const { capacity: c, ratios: r, reserved: z, allocated: a, state } = nodes[h]!;
      const o = h * DIMS;
      this.alloc[o] = allocatableOf(c.vcpus, r.cpu, z.vcpus);
      this.alloc[o + 1] = allocatableOf(c.memoryMib, r.memory, z.memoryMib);
      this.alloc[o + 2] = allocatableOf(c.diskGib, r.disk, z.diskGib);
      this.used[o] = a.vcpus;
      this.used[o + 1] = a.memoryMib;
      this.used[o + 2] = a.diskGib;
      this.emptyBefore[h] = a.vcpus === 0 && a.memoryMib === 0 && a.diskGib === 0 ? 1 : 0;
      this.ready[h] = state === "READY" ? 1 : 0;
      if (state === "READY") for (let d = 0; d < DIMS; d++) this.total[d]! += this.alloc[o + d]!;
    }
  }

  /** Whether node h has room for VM v (the same test as the engine's mayReject, negated). */
  fits(h: number, needs: Float64Array, v: number): boolean {
    if (this.ready[h] === 0) return false;
    const o = h * DIMS;
    const q = v * DIMS;
    for (let d = 0; d < DIMS; d++) {
      const need = needs[q + d]!;
      if (need > 0 && need > this.alloc[o + d]! - this.used[o + d]!) return false;
    }
    return true;
  }

  /** Whether node h would have room for VM v once VM `out` (on h) left it. */
  fitsWithout(h: number, needs: Float64Array, v: number, out: number): boolean {
    if (this.ready[h] === 0) return false;
    const o = h * DIMS;
    const q = v * DIMS;
    const p = out * DIMS;
    for (let d = 0; d < DIMS; d++) {
      const need = needs[q + d]!;
      if (need > 0 && need > this.alloc[o + d]! - this.used[o + d]! + needs[p + d]!) return false;
    }
    return true;
  }

  /** Books VM v onto node h (sign 1) or takes it off (sign -1). */
  add(h: number, needs: Float64Array, v: number, sign: 1 | -1): void {
    const o = h * DIMS;
    const q = v * DIMS;
    for (let d = 0; d < DIMS; d++) this.used[o + d]! += sign * needs[q + d]!;
  }

  /** Used share of node h, summed over the resources it has (0..3): how full it is. */
  load(h: number): number {
    const o = h * DIMS;
    let s = 0;
    for (let d = 0; d < DIMS; d++) {
      const a = this.alloc[o + d]!;
      if (a > 0) s += this.used[o + d]! / a;
    }
    return s;
  }

  /** Dot product of VM v's demand with node h's free room, both as shares of the node, weighted by w. */
  alignment(h: number, needs: Float64Array, v: number, w: Float64Array): number {
    const o = h * DIMS;
    let s = 0;
    for (let d = 0; d < DIMS; d++) {
      const a = this.alloc[o + d]!;
      if (a > 0) s += (w[d]! * needs[v * DIMS + d]! * (a - this.used[o + d]!)) / (a * a);
    }
    return s;
  }

  /** What the pack scorer gives node h for VM v. */
  packScore(h: number, needs: Float64Array, v: number): number {
    const o = h * DIMS;
    const q = v * DIMS;
    return packScore(this.alloc[o]!, this.used[o]!, needs[q]!, this.alloc[o + 1]!, this.used[o + 1]!, needs[q + 1]!);
  }

  /** VM v's size: its shares of the READY cluster summed over resources (the "sum" order of FFD). */
  size(needs: Float64Array, v: number): number {
    let s = 0;
    for (let d = 0; d < DIMS; d++) {
      const t = this.total[d]!;
      if (t > 0) s += needs[v * DIMS + d]! / t;
    }
    return s;
  }
}

/** The VMs' requests in the model's layout. */
export function needsOf(vms: readonly VmRequest[]): Float64Array {
  const needs = new Float64Array(vms.length * DIMS);
  for (let v = 0; v < vms.length; v++) {
    const r = vms[v]!.resources;
    needs[v * DIMS] = r.vcpus;
    needs[v * DIMS + 1] = r.memoryMib;
    needs[v * DIMS + 2] = r.diskGib;
  }
  return needs;
}
