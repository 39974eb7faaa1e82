import { allocatableOf } from "../resources.js";
import type { NodeSnapshot } from "../types.js";

/**
 * Thresholds of free room for the per-class bounds, in steps of √2 (a request between two uses
 * the lower, so its class still holds every node that can take it). Class 0 holds every node.
 * CPU: 1 to 1024 vCPUs; memory: 512 MiB to 2 TiB. Larger requests use the top class.
 */
const CPU_T = thresholds(0, 10);
const MEM_T = thresholds(9, 21);
const JC = CPU_T.length;
const JM = MEM_T.length;
/** Per inner slot, the CPU classes then the memory classes. */
const JCM = JC + JM;
/**
 * A slot's numbers, side by side in one array (a search reads them all for a slot and its
 * sibling, so they share cache lines): least free, then largest of the rest. See `FitTree`.
 */
const MIN_FREE_CPU = 0;
const MIN_FREE_MEM = 1;
const MAX_FREE_CPU = 2;
const MAX_FREE_MEM = 3;
const MAX_FREE_DISK = 4;
const MAX_ALLOC_CPU = 5;
const MAX_ALLOC_MEM = 6;
const MAX_INV_CPU = 7;
const MAX_INV_MEM = 8;
/** Numbers per slot; the first MINS are minima, the rest maxima. */
const S = 9;
const MINS = 2;
/** The per-class bounds are stored as float32: this covers their rounding (fraction sums in -2..2). */
const F32_MARGIN = 1e-6;

function thresholds(fromLog2: number, toLog2: number): Float64Array {
  const t = [-Infinity];
  for (let k = 2 * fromLog2; k <= 2 * toLog2; k++) t.push(k % 2 === 0 ? 2 ** (k / 2) : 2 ** ((k - 1) / 2) * Math.SQRT2);
  return Float64Array.from(t);
}

/** The highest class whose threshold is at most `need`. */
function classOf(need: number, t: Float64Array): number {
  let j = 0;
  while (j + 1 < t.length && t[j + 1]! <= need) j++;
  return j;
}

/**
 * A binary tree over the nodes that bounds, for any subtree, how well its nodes can score for a VM
 * under the pack scorer, and whether any of them can hold the VM at all. Per subtree it keeps the
 * most free CPU, memory and disk (a VM needing more fits none of them); the least free CPU and
 * memory with the largest allocatable (the fullest any of them can end up); and, per threshold of
 * free CPU and of free memory, the fullest node among those with at least that much free. The
 * last is what makes the search fast: the fullest nodes of a subtree are usually too full for the
 * VM, and a bound taken over them would send the search into every subtree that holds one, while
 * a VM needing at least a threshold can only land on a node of that threshold's class.
 * The search (search.ts) descends only into subtrees whose bound can still beat the best node found.
 *
 * Leaves are ordered by node shape (allocatable CPU, then memory), then by a Z-order curve over the
 * free shares of CPU and memory, so a subtree holds nodes of one size that are about as full: its
 * bound is close to its best node. Bookings change the numbers in place (O(log n) per change); the
 * order only affects speed, never the result, and is rebuilt once the numbers have moved a lot.
 * Numbers only, in typed arrays: a search touches no node objects except the leaves it examines.
 */
export class FitTree {
  readonly n: number;
  /** Leaves: a power of two >= n; slot m + k is leaf k, slot 1 the root, slot t's children 2t and 2t + 1. */
  readonly m: number;
  /**
   * Per slot t, S numbers from t × S: the least free CPU and memory among its READY nodes
   * (-Infinity for a node with nothing allocatable; +Infinity when none); the most free CPU,
   * memory and disk (-Infinity when none); the largest allocatable CPU and memory (0 when none);
   * the largest 1 / allocatable CPU and memory (0 when none).
   */
  private readonly slot: Float64Array;
  /**
   * Per inner slot t, from t × JCM: for each CPU class j, the least `fill` among its READY nodes
   * with at least CPU_T[j] free CPU, then the same per memory class with MEM_T[j] free memory;
   * +Infinity when none.
   */
  private readonly classes: Float32Array;
  /** Node index at leaf k (-1 for padding), and the leaf of node i. */
  readonly nodeAt: Int32Array;
  private readonly leafOf: Int32Array;

  /** Per node: READY (and finite), allocatable and free room, as in the node's working copy. */
  private readonly live: Uint8Array;
  private readonly alloc: Float64Array;
  private readonly free: Float64Array;
  /**
   * Per node, free shares of CPU and memory summed, each clamped to -1..1 (0 for a resource the node
   * has none of): `fill − need / allocatable` is at most the free shares the pack score sees after
   * placing the need, so a class's least fill bounds its best score.
   */
  private readonly fill: Float64Array;
  /** Per node, how many CPU / memory classes it is in. */
  private readonly cpuClasses: Uint8Array;
  private readonly memClasses: Uint8Array;
  /** Nodes with a non-finite number: the bounds cannot judge them, so the tree is not `usable`. */
  private readonly odd: Uint8Array;
  private oddCount = 0;
  /** Leaf changes since the order was built: past a few per node, the order is rebuilt. */
  private changes = 0;
  /** `raiseAll`'s queue of slots on one level, and which slots are in it. */
  private readonly queue: Int32Array;
  private readonly queued: Uint8Array;
  /** The classes the last `combine` changed: lo..hi - 1 (none when lo >= hi). */
  private lo = 0;
  private hi = 0;

  constructor(snapshots: readonly NodeSnapshot[]) {
    const n = snapshots.length;
    this.n = n;
    let m = 2;
    while (m < n) m *= 2;
    this.m = m;
    const slots = 2 * m;
    this.slot = new Float64Array(slots * S);
    this.classes = new Float32Array(m * JCM);
    this.queue = new Int32Array(m);
    this.queued = new Uint8Array(m);
    this.nodeAt = new Int32Array(m).fill(-1);
    this.leafOf = new Int32Array(n);
    this.live = new Uint8Array(n);
    this.alloc = new Float64Array(n * 3);
    this.free = new Float64Array(n * 3);
    this.fill = new Float64Array(n);
    this.cpuClasses = new Uint8Array(n);
    this.memClasses = new Uint8Array(n);
    this.odd = new Uint8Array(n);
    for (let i = 0; i < n; i++) this.store(i, snapshots[i]!);
    this.reorder();
  }

  /** False while some node has a non-finite number: then the caller must scan every node. */
  get usable(): boolean {
    return this.oddCount === 0;
  }

  /** True once the leaves changed a few times per node since the order was built: `reorder` then pays off. */
  get stale(): boolean {
    return this.changes > 4 * this.n + 64;
  }

  /** Node i's numbers from its snapshot, as WorkingNode.reset computes them; the caller then calls `raiseOnly` or `raiseAll`. */
  setFromSnapshot(i: number, s: NodeSnapshot): void {
    this.store(i, s);
    this.changes++;
    this.writeLeaf(i);
  }

  /** Node i's numbers (free = allocatable − used, as the cpu/memory/disk filters compute it); the caller then calls `raiseOnly` or `raiseAll`. */
  set(i: number, ready: boolean, aCpu: number, fCpu: number, aMem: number, fMem: number, aDisk: number, fDisk: number): void {
    this.put(i, ready, aCpu, fCpu, aMem, fMem, aDisk, fDisk);
    this.changes++;
    this.writeLeaf(i);
  }

  /**
   * Recomputes the slots above node i's leaf after a change, stopping at the first slot whose
   * numbers stay the same (the slots above it depend on nothing else that changed). Only when node
   * i's leaf is the one change since every slot was up to date: with two changed leaves, stopping
   * below their common ancestor would leave it stale (`raiseAll` handles several).
   */
  raiseOnly(i: number): void {
    // Above the first slot, only the classes that changed below it can change.
    let from = 0;
    let to = JCM;
    for (let t = (this.m + this.leafOf[i]!) >> 1; t >= 1 && this.combine(t, from, to); t >>= 1) {
      from = this.lo;
      to = this.hi;
    }
  }

  /**
   * Recomputes the slots above the leaves of the first `count` nodes in `nodes` after they changed,
   * a level at a time, and above a slot only when its numbers changed: each slot at most once
   * (raising each leaf to the root would recompute their common ancestors once per leaf).
   */
  raiseAll(nodes: Int32Array, count: number): void {
    const queued = this.queued;
    const q = this.queue;
    let len = 0;
    for (let k = 0; k < count; k++) {
      const t = (this.m + this.leafOf[nodes[k]!]!) >> 1;
      if (queued[t] === 0) {
        queued[t] = 1;
        q[len++] = t;
      }
    }
    // Every slot of the queue is on one level, so both children of a slot are done before it.
    while (len > 0) {
      let next = 0;
      for (let k = 0; k < len; k++) {
        const t = q[k]!;
        queued[t] = 0;
        const p = t >> 1;
        if (this.combine(t) && p >= 1 && queued[p] === 0) {
          queued[p] = 1;
          q[next++] = p; // next <= k: overwrites only slots already taken
        }
      }
      len = next;
    }
  }

  /** Recomputes every slot above the leaves. */
  rebuild(): void {
    for (let t = this.m - 1; t >= 1; t--) this.combine(t);
  }

  /**
   * The highest pack score any READY node under slot t can get for a VM needing (cpu, mem, disk),
   * or -Infinity when none of them has room for it. `jc`, `jm`: the VM's classes (`classes`).
   * Never below the score the pack scorer computes for a node that passes the resource filters:
   * see `fill` and the bounds' comments; float32 rounding is covered by a margin.
   */
  bound(t: number, cpu: number, mem: number, disk: number, jc: number, jm: number): number {
    const a = this.slot;
    const o = t * S;
    const mc = a[o + MAX_FREE_CPU]!;
    if (mc === -Infinity) return -Infinity;
    if ((cpu > 0 && cpu > mc) || (mem > 0 && mem > a[o + MAX_FREE_MEM]!) || (disk > 0 && disk > a[o + MAX_FREE_DISK]!)) return -Infinity;
    // The fullest corner: least free CPU and memory less the need, over the largest allocatable.
    const xc = a[o + MIN_FREE_CPU]! - cpu;
    const xm = a[o + MIN_FREE_MEM]! - mem;
    let low = (xc > 0 ? Math.min(1, xc / a[o + MAX_ALLOC_CPU]!) : 0) + (xm > 0 ? Math.min(1, xm / a[o + MAX_ALLOC_MEM]!) : 0);
    if (t < this.m) {
      // The fullest node of the VM's classes, less the need's largest share of any node.
      const c = t * JCM;
      const g = Math.max(this.classes[c + jc]!, this.classes[c + JC + jm]!);
      if (g === Infinity) return -Infinity;
      low = Math.max(low, g - F32_MARGIN - cpu * a[o + MAX_INV_CPU]! - mem * a[o + MAX_INV_MEM]!);
    }
    return 100 * (1 - low / 2);
  }

  /** A VM's CPU and memory classes for `bound`. */
  static classes(cpu: number, mem: number): [number, number] {
    return [classOf(cpu, CPU_T), classOf(mem, MEM_T)];
  }

  private store(i: number, s: NodeSnapshot): void {
    const { capacity: c, ratios: r, reserved: z, allocated: a } = s;
    const aCpu = allocatableOf(c.vcpus, r.cpu, z.vcpus);
    const aMem = allocatableOf(c.memoryMib, r.memory, z.memoryMib);
    const aDisk = allocatableOf(c.diskGib, r.disk, z.diskGib);
    this.put(i, s.state === "READY", aCpu, aCpu - a.vcpus, aMem, aMem - a.memoryMib, aDisk, aDisk - a.diskGib);
  }

  private put(i: number, ready: boolean, aCpu: number, fCpu: number, aMem: number, fMem: number, aDisk: number, fDisk: number): void {
    const o = 3 * i;
    this.alloc[o] = aCpu;
    this.alloc[o + 1] = aMem;
    this.alloc[o + 2] = aDisk;
    this.free[o] = fCpu;
    this.free[o + 1] = fMem;
    this.free[o + 2] = fDisk;
    const odd = Number.isFinite(aCpu) && Number.isFinite(fCpu) && Number.isFinite(aMem) && Number.isFinite(fMem) && Number.isFinite(aDisk) && Number.isFinite(fDisk) ? 0 : 1;
    this.oddCount += odd - this.odd[i]!;
    this.odd[i] = odd;
    this.live[i] = ready && odd === 0 ? 1 : 0;
    this.fill[i] = share(fCpu, aCpu) + share(fMem, aMem);
    this.cpuClasses[i] = classOf(fCpu, CPU_T) + 1;
    this.memClasses[i] = classOf(fMem, MEM_T) + 1;
  }

  private writeLeaf(i: number): void {
    const t = this.m + this.leafOf[i]!;
    if (this.live[i] === 0) {
      this.empty(t);
      return;
    }
    const o = 3 * i;
    const aCpu = this.alloc[o]!;
    const aMem = this.alloc[o + 1]!;
    const a = this.slot;
    const s = t * S;
    a[s + MAX_FREE_CPU] = this.free[o]!;
    a[s + MAX_FREE_MEM] = this.free[o + 1]!;
    a[s + MAX_FREE_DISK] = this.free[o + 2]!;
    // A resource the node has none of counts as full in the pack score, whatever is free.
    a[s + MIN_FREE_CPU] = aCpu > 0 ? this.free[o]! : -Infinity;
    a[s + MIN_FREE_MEM] = aMem > 0 ? this.free[o + 1]! : -Infinity;
    a[s + MAX_ALLOC_CPU] = aCpu;
    a[s + MAX_ALLOC_MEM] = aMem;
    a[s + MAX_INV_CPU] = aCpu > 0 ? 1 / aCpu : 0;
    a[s + MAX_INV_MEM] = aMem > 0 ? 1 / aMem : 0;
  }

  private empty(t: number): void {
    const a = this.slot;
    const s = t * S;
    a[s + MIN_FREE_CPU] = Infinity;
    a[s + MIN_FREE_MEM] = Infinity;
    a[s + MAX_FREE_CPU] = -Infinity;
    a[s + MAX_FREE_MEM] = -Infinity;
    a[s + MAX_FREE_DISK] = -Infinity;
    a[s + MAX_ALLOC_CPU] = 0;
    a[s + MAX_ALLOC_MEM] = 0;
    a[s + MAX_INV_CPU] = 0;
    a[s + MAX_INV_MEM] = 0;
  }

  /**
   * Recomputes slot t from its children, of its classes only `from`..`to` - 1 (the others are
   * known to stay the same); true when any of its numbers changed. The classes that changed are
   * left in `lo`..`hi` - 1.
   */
  private combine(t: number, from = 0, to = JCM): boolean {
    const l = 2 * t;
    const a = this.slot;
    const ot = t * S;
    const ol = l * S;
    const or = ol + S;
    let changed = false;
    for (let k = 0; k < S; k++) {
      const v = k < MINS ? Math.min(a[ol + k]!, a[or + k]!) : Math.max(a[ol + k]!, a[or + k]!);
      if (a[ot + k] !== v) {
        a[ot + k] = v;
        changed = true;
      }
    }
    this.lo = JCM;
    this.hi = 0;
    if (l >= this.m) this.classesOfLeaves(t, l);
    else this.classesOfChildren(t, l, from, to);
    return changed || this.lo < this.hi;
  }

  /** Slot t's classes from its two leaves l and l + 1: the least fill of those of them in each class. */
  private classesOfLeaves(t: number, l: number): void {
    const a = this.nodeAt[l - this.m]!;
    const b = this.nodeAt[l + 1 - this.m]!;
    const la = a >= 0 && this.live[a] === 1;
    const lb = b >= 0 && this.live[b] === 1;
    const fa = la ? this.fill[a]! : Infinity;
    const fb = lb ? this.fill[b]! : Infinity;
    this.leafClasses(t * JCM, 0, JC, la ? this.cpuClasses[a]! : 0, lb ? this.cpuClasses[b]! : 0, fa, fb);
    this.leafClasses(t * JCM, JC, JM, la ? this.memClasses[a]! : 0, lb ? this.memClasses[b]! : 0, fa, fb);
  }

  /** Classes `from`.. of `len` at slot offset `at`, for two leaves in `ca` and `cb` of them with fills `fa` and `fb`. */
  private leafClasses(at: number, from: number, len: number, ca: number, cb: number, fa: number, fb: number): void {
    const out = this.classes;
    for (let j = 0; j < len; j++) {
      const v = Math.fround(Math.min(j < ca ? fa : Infinity, j < cb ? fb : Infinity));
      const k = from + j;
      if (out[at + k] !== v) {
        out[at + k] = v;
        if (k < this.lo) this.lo = k;
        this.hi = k + 1;
      }
    }
  }

  /** Slot t's classes `from`..`to` - 1 as the least of its children l and l + 1. */
  private classesOfChildren(t: number, l: number, from: number, to: number): void {
    const out = this.classes;
    const at = t * JCM;
    const x = l * JCM;
    const y = x + JCM;
    for (let k = from; k < to; k++) {
      const v = Math.min(out[x + k]!, out[y + k]!);
      if (out[at + k] !== v) {
        out[at + k] = v;
        if (k < this.lo) this.lo = k;
        this.hi = k + 1;
      }
    }
  }

  /** Sorts the leaves (shape, then Z-order of the free shares; nodes that never fit last) and rebuilds every slot. */
  reorder(): void {
    const n = this.n;
    const key = new Float64Array(n);
    const o = this.free;
    const a = this.alloc;
    for (let i = 0; i < n; i++) key[i] = this.live[i] === 1 ? zOrder(share01(o[3 * i]!, a[3 * i]!), share01(o[3 * i + 1]!, a[3 * i + 1]!)) : Infinity;
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((x, y) => {
      const kx = key[x]!;
      const ky = key[y]!;
      if (kx === Infinity || ky === Infinity) return kx === ky ? x - y : kx === Infinity ? 1 : -1;
      return a[3 * x]! - a[3 * y]! || a[3 * x + 1]! - a[3 * y + 1]! || kx - ky || x - y;
    });
    this.nodeAt.fill(-1);
    for (let k = 0; k < n; k++) {
      this.nodeAt[k] = order[k]!;
      this.leafOf[order[k]!] = k;
    }
    for (let i = 0; i < n; i++) this.writeLeaf(i);
    for (let k = n; k < this.m; k++) this.empty(this.m + k);
    this.rebuild();
    this.changes = 0;
  }
}

/** Free share of a resource clamped to -1..1 (0 when the node has none): a node's part of `fill`. */
function share(free: number, alloc: number): number {
  if (!(alloc > 0)) return 0;
  const f = free / alloc;
  return f <= -1 ? -1 : f >= 1 ? 1 : f;
}

/** Free share clamped to 0..1, for the leaf order. */
function share01(free: number, alloc: number): number {
  const f = share(free, alloc);
  return f < 0 ? 0 : f;
}

/** Z-order (Morton) code of two shares in 0..1, 10 bits each: nearby points get nearby codes. */
function zOrder(x: number, y: number): number {
  return spread10(Math.floor(x * 1023)) | (spread10(Math.floor(y * 1023)) << 1);
}

/** The 10 low bits of v, moved to the even bit positions. */
function spread10(v: number): number {
  v &= 0x3ff;
  v = (v | (v << 8)) & 0x00ff00ff;
  v = (v | (v << 4)) & 0x0f0f0f0f;
  v = (v | (v << 2)) & 0x33333333;
  v = (v | (v << 1)) & 0x55555555;
  return v;
}
