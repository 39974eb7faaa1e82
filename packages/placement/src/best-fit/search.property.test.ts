import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Batch } from "../batch.js";
import { NodeList } from "../node-list.js";
import { decide, mayReject } from "../decide.js";
import { placeBatch } from "../engine.js";
import { parseLabelExpression } from "../labels.js";
import { placePass } from "../pass.js";
import { allocatable } from "../resources.js";
import { scorerPlan } from "../scorer-plan.js";
import { packScore } from "../scorers/pack.js";
import { vmHash } from "../seed.js";
import type { NodeSnapshot, PlacementOptions, Resources, VmRequest } from "../types.js";
import { TrackedTree } from "./cache.js";
import { decideBestFit, searchable } from "./search.js";
import { FitTree } from "./tree.js";

// Few host shapes and round fills, so equal scores (ties) are common; odd sizes and over-commit too.
const usedShare = fc.oneof(
  { arbitrary: fc.constant(0), weight: 3 },
  { arbitrary: fc.constantFrom(0.25, 0.5, 0.75, 1), weight: 2 },
  { arbitrary: fc.double({ min: 0, max: 1.1, noNaN: true }), weight: 2 },
);

const node = (name: string): fc.Arbitrary<NodeSnapshot> =>
  fc
    .record({
      state: fc.constantFrom("READY", "READY", "READY", "READY", "CORDONED", "DOWN"),
      cap: fc.oneof(
        fc.constantFrom<[number, number, number]>([16, 65536, 1000], [64, 262144, 2000], [8, 32768, 500]),
        fc.tuple(fc.integer({ min: 0, max: 64 }), fc.integer({ min: 0, max: 131072 }), fc.integer({ min: 0, max: 2000 })),
      ),
      ratios: fc.tuple(fc.constantFrom(1, 1.5, 4), fc.constantFrom(1, 1.2)),
      used: fc.tuple(usedShare, usedShare, usedShare),
      zone: fc.constantFrom("a", "b"),
      groups: fc.dictionary(fc.constantFrom("g1", "g2"), fc.integer({ min: 0, max: 1 }), { maxKeys: 1 }),
    })
    .map(({ state, cap, ratios, used, zone, groups }) => {
      const n: NodeSnapshot = {
        name,
        state,
        capacity: { vcpus: cap[0], memoryMib: cap[1], diskGib: cap[2] },
        reserved: { vcpus: 0, memoryMib: 0, diskGib: 0 },
        ratios: { cpu: ratios[0], memory: ratios[1], disk: 1 },
        allocated: { vcpus: 0, memoryMib: 0, diskGib: 0 },
        labels: { zone },
        groups,
      };
      const a = allocatable(n);
      n.allocated = { vcpus: Math.floor(a.vcpus * used[0]), memoryMib: Math.floor(a.memoryMib * used[1]), diskGib: Math.floor(a.diskGib * used[2]) };
      return n;
    });

const ZONE_A = parseLabelExpression("zone=a");

const vm = (key: string): fc.Arbitrary<VmRequest> =>
  fc
    .record({
      r: fc.tuple(fc.constantFrom(0, 1, 2, 3, 4, 8, 16, 0.5), fc.constantFrom(0, 512, 1024, 3000, 4096, 16384, 65536), fc.constantFrom(0, 10, 200)),
      zoneA: fc.boolean(),
      anti: fc.option(fc.constantFrom("g1", "g2"), { nil: undefined, freq: 3 }),
    })
    .map(({ r, zoneA, anti }) => ({
      key,
      resources: { vcpus: r[0], memoryMib: r[1], diskGib: r[2] },
      constraints: zoneA ? [ZONE_A] : [],
      preferences: [],
      ...(anti ? { antiAffinityGroup: anti } : {}),
    }));

const list = <T>(min: number, max: number, item: (i: number) => fc.Arbitrary<T>) =>
  fc.integer({ min, max }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => item(i))));

// Pack alone, or pack with a weight other than 1 (the weighted mean then divides by it).
const options: fc.Arbitrary<PlacementOptions> = fc
  .record({ seed: fc.string({ maxLength: 4 }), weight: fc.constantFrom(undefined, 3, 0.7) })
  .map(({ seed, weight }) => (weight === undefined ? { strategy: "pack", seed } : { strategy: "pack", seed, scorers: [{ name: "pack", weight }] }));

/** A caller's change to one node between calls: a booking, a release, or a new state. */
const change = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom("book", "release", "state"),
  r: fc.tuple(fc.integer({ min: 0, max: 16 }), fc.integer({ min: 0, max: 65536 }), fc.integer({ min: 0, max: 200 })),
  state: fc.constantFrom("READY", "DOWN"),
});

function applyChange(nodes: NodeSnapshot[], c: { at: number; kind: string; r: number[]; state: string }): void {
  const i = c.at % nodes.length;
  const n = nodes[i]!;
  const sign = c.kind === "release" ? -1 : 1;
  const a = n.allocated;
  const allocated: Resources =
    c.kind === "state" ? a : { vcpus: Math.max(0, a.vcpus + sign * c.r[0]!), memoryMib: Math.max(0, a.memoryMib + sign * c.r[1]!), diskGib: Math.max(0, a.diskGib + sign * c.r[2]!) };
  nodes[i] = { ...n, allocated, state: c.kind === "state" ? (c.state as NodeSnapshot["state"]) : n.state };
}

/** Decides every VM both ways on one batch, booking each choice into both, and checks the two agree. */
function expectSameDecisions(nodes: readonly NodeSnapshot[], vms: readonly VmRequest[], opts: PlacementOptions, tracked: TrackedTree): void {
  const plan = scorerPlan(opts);
  // One batch: both searches see the same working nodes, so the same bookings.
  const state = new Batch(nodes);
  for (const v of vms) {
    const scoring = plan.forVm(v);
    expect(searchable(v, scoring)).toBe(true);
    const h = vmHash(opts.seed, v.key);
    const tree = decideBestFit(v, state, scoring, h, tracked.tree);
    const scan = decide(v, state, scoring, h, nodes.length);
    expect(tree.node?.name ?? null).toBe(scan.node?.name ?? null);
    expect(tree.score).toBe(scan.score);
    expect(tree.evaluated).toBeLessThanOrEqual(nodes.length);
    expect(tree.feasible).toBeLessThanOrEqual(scan.feasible);
    if (scan.node !== null) {
      expect(tree.feasible).toBeGreaterThanOrEqual(1);
      scan.node.take(v.resources, [v.antiAffinityGroup]);
      tracked.booked(scan.node);
    }
  }
}

describe("best-fit tree search", () => {
  it("decides exactly as the full scan, VM after VM of a batch and call after call with changed snapshots", () => {
    fc.assert(
      fc.property(
        list(1, 40, (i) => node(`n${String(i).padStart(2, "0")}`)),
        fc.array(fc.tuple(list(1, 6, (i) => vm(`v${i}`)), fc.array(change, { maxLength: 6 })), { minLength: 1, maxLength: 4 }),
        options,
        (start, calls, opts) => {
          const nodes = start.slice();
          const tracked = new TrackedTree(nodes);
          for (const [vms, changes] of calls) {
            tracked.sync(nodes);
            expectSameDecisions(nodes, vms, opts, tracked);
            for (const c of changes) applyChange(nodes, c);
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it("still decides as the scan after the leaves are reordered", () => {
    fc.assert(
      fc.property(list(2, 30, (i) => node(`n${i}`)), list(1, 8, (i) => vm(`v${i}`)), options, (nodes, vms, opts) => {
        const tracked = new TrackedTree(nodes);
        expectSameDecisions(nodes, vms, opts, tracked);
        tracked.tree.reorder(); // the order now follows the bookings
        const again = new TrackedTree(nodes);
        expectSameDecisions(nodes, vms.map((v) => ({ ...v, key: `${v.key}'` })), opts, again);
      }),
      { numRuns: 200 },
    );
  });

  it("keeps every slot as a full rebuild computes it, through single and many changed leaves and bookings", () => {
    // The raises stop early (a slot that did not change, classes that did not change below): this
    // checks that what they skip really is up to date, slot by slot, for VMs of every class.
    fc.assert(
      fc.property(
        list(1, 40, (i) => node(`n${i}`)),
        fc.array(fc.tuple(fc.array(change, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 3 })), { minLength: 1, maxLength: 6 }),
        fc.array(vm("probe"), { minLength: 1, maxLength: 4 }),
        (start, rounds, probes) => {
          const nodes = start.slice();
          const tracked = new TrackedTree(nodes);
          const tree = tracked.tree;
          const bounds = () => probes.map(({ resources: { vcpus: c, memoryMib: m, diskGib: d } }) => {
            const [jc, jm] = FitTree.classes(c, m);
            return Array.from({ length: 2 * tree.m - 1 }, (_, k) => tree.bound(k + 1, c, m, d, jc, jm));
          });
          for (const [changes, bookings] of rounds) {
            for (const c of changes) applyChange(nodes, c);
            tracked.sync(nodes);
            const state = new Batch(nodes);
            for (const b of bookings) {
              const w = state.node(b % nodes.length);
              w.take({ vcpus: 1, memoryMib: 1024, diskGib: 10 }, []);
              tracked.booked(w);
            }
            const incremental = bounds();
            tree.rebuild();
            expect(incremental).toEqual(bounds());
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("never bounds a subtree below the pack score of a node in it that has room", () => {
    fc.assert(
      fc.property(list(1, 24, (i) => node(`n${i}`)), vm("v"), (nodes, v) => {
        const tree = new FitTree(nodes);
        const { vcpus: c, memoryMib: m, diskGib: d } = v.resources;
        const [jc, jm] = FitTree.classes(c, m);
        const state = new Batch(nodes);
        for (let k = 0; k < tree.m; k++) {
          const i = tree.nodeAt[k]!;
          if (i < 0) continue;
          const w = state.node(i);
          if (mayReject(w, c, m, d)) continue;
          const score = packScore(w.allocCpu, w.usedCpu, c, w.allocMem, w.usedMem, m);
          for (let t = tree.m + k; t >= 1; t >>= 1) expect(tree.bound(t, c, m, d, jc, jm)).toBeGreaterThanOrEqual(score);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("breaks ties between identical empty hosts as the scan does", () => {
    const nodes = Array.from({ length: 300 }, (_, i) => mk(`h${i}`, 0));
    for (const key of ["a", "b", "c", "d"]) {
      const opts: PlacementOptions = { strategy: "pack", seed: "s" };
      const v = { key, resources: { vcpus: 2, memoryMib: 4096, diskGib: 20 }, constraints: [], preferences: [] };
      const pick = (r: ReturnType<typeof placePass>) => r.placements.map((p) => [p.node, p.score]);
      expect(pick(placePass(nodes, [v], opts, scorerPlan(opts), "blend"))).toEqual(pick(placePass(nodes, [v], opts, scorerPlan(opts), "blend", false)));
    }
  });

  it("leaves VMs it cannot rank to the scan: preferences, soft groups, affinity, extra scorers", () => {
    const opts: PlacementOptions = { strategy: "pack", seed: "s" };
    const plain: VmRequest = { key: "v", resources: { vcpus: 1, memoryMib: 1, diskGib: 0 }, constraints: [ZONE_A], preferences: [], antiAffinityGroup: "g" };
    expect(searchable(plain, scorerPlan(opts).forVm(plain))).toBe(true);
    for (const v of [{ ...plain, preferences: [ZONE_A] }, { ...plain, softAntiAffinityGroup: "g" }, { ...plain, affinityGroup: "g" }]) {
      expect(searchable(v, scorerPlan(opts).forVm(v))).toBe(false);
    }
    const withSpread: PlacementOptions = { ...opts, scorers: [{ name: "spread", weight: 1 }] };
    expect(searchable(plain, scorerPlan(withSpread).forVm(plain))).toBe(false);
  });
});

describe("placeBatch with pack on a large cluster", () => {
  // Above FULL_SCAN_NODES the engine decides pack VMs with the tree; the scan is the reference.
  it("places single VMs call after call as the full scan would, with the caller booking each placement", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(16, 64), fc.constantFrom(0, 0.3, 0.6, 0.9)), { minLength: 300, maxLength: 300 }),
        list(20, 40, (i) => vm(`v${i}`)),
        options,
        (hosts, vms, opts) => {
          const nodes = hosts.map(([c, f], i) => mk(`h${String(i).padStart(3, "0")}`, f, c));
          const byName = new Map(nodes.map((n, i) => [n.name, i]));
          for (const v of vms) {
            const got = placeBatch(nodes, [v], opts);
            const want = placePass(nodes, [v], opts, scorerPlan(opts), "blend", false);
            expect(got.placements.map((p) => [p.node, p.score, p.scores])).toEqual(want.placements.map((p) => [p.node, p.score, p.scores]));
            expect(got.unplaced).toEqual(want.unplaced);
            const p = got.placements[0];
            if (p === undefined) continue;
            const i = byName.get(p.node)!;
            const n = nodes[i]!;
            const r = v.resources;
            nodes[i] = { ...n, allocated: { vcpus: n.allocated.vcpus + r.vcpus, memoryMib: n.allocated.memoryMib + r.memoryMib, diskGib: n.allocated.diskGib + r.diskGib } };
          }
        },
      ),
      { numRuns: 25 },
    );
  });

  it("places call after call as the full scan would when the caller keeps a NodeList (the tree reads its change log)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(16, 64), fc.constantFrom(0, 0.3, 0.6, 0.9)), { minLength: 300, maxLength: 300 }),
        fc.array(fc.tuple(list(1, 3, (i) => vm(`v${i}`)), fc.array(change, { maxLength: 5 })), { minLength: 5, maxLength: 25 }),
        options,
        (hosts, calls, opts) => {
          const nodes = new NodeList(hosts.map(([c, f], i) => mk(`h${String(i).padStart(3, "0")}`, f, c)));
          const byName = new Map(nodes.snapshots.map((n, i) => [n.name, i]));
          calls.forEach(([vms, changes], k) => {
            const batch = vms.map((v) => ({ ...v, key: `${k}-${v.key}` }));
            const got = placeBatch(nodes, batch, opts);
            // A fresh array gets a fresh tree, whose leaf order may differ: so may the counts of nodes examined, nothing else.
            const want = placeBatch(nodes.snapshots.slice(), batch, opts);
            const strip = (r: ReturnType<typeof placeBatch>) => r.placements.map((p) => [p.key, p.node, p.score, p.scores]);
            expect(strip(got)).toEqual(strip(want));
            expect(got.unplaced).toEqual(want.unplaced);
            for (const p of got.placements) {
              const i = byName.get(p.node)!;
              const n = nodes.snapshots[i]!;
              const r = batch.find((v) => v.key === p.key)!.resources;
              nodes.set(i, { ...n, allocated: { vcpus: n.allocated.vcpus + r.vcpus, memoryMib: n.allocated.memoryMib + r.memoryMib, diskGib: n.allocated.diskGib + r.diskGib } });
            }
            // Other changes between calls: bookings, releases, state changes, through the list.
            const copy = nodes.snapshots.slice();
            for (const c of changes) applyChange(copy, c);
            copy.forEach((s, i) => s !== nodes.snapshots[i] && nodes.set(i, s));
          });
        },
      ),
      { numRuns: 25 },
    );
  });

  it("places a batch as the full scan would", () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(0, 0.5, 0.8), { minLength: 280, maxLength: 280 }), list(2, 30, (i) => vm(`v${i}`)), options, (fills, vms, opts) => {
        const nodes = fills.map((f, i) => mk(`h${i}`, f));
        const strip = (r: ReturnType<typeof placeBatch>) => r.placements.map((p) => [p.key, p.node, p.score]);
        expect(strip(placePass(nodes, vms, opts, scorerPlan(opts), "blend"))).toEqual(strip(placePass(nodes, vms, opts, scorerPlan(opts), "blend", false)));
      }),
      { numRuns: 25 },
    );
  });
});

/** A READY 16 vCPU / 64 GiB host (or `vcpus` with 4 GiB each), filled to `fill`, in zone a. */
function mk(name: string, fill: number, vcpus = 16): NodeSnapshot {
  const mem = vcpus * 4096;
  return {
    name,
    state: "READY",
    capacity: { vcpus, memoryMib: mem, diskGib: 1000 },
    reserved: { vcpus: 0, memoryMib: 0, diskGib: 0 },
    ratios: { cpu: 1, memory: 1, disk: 1 },
    allocated: { vcpus: Math.floor(vcpus * fill), memoryMib: Math.floor(mem * fill), diskGib: 0 },
    labels: { zone: "a" },
    groups: {},
  };
}
