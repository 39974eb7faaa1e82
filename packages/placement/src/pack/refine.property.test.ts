import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { placeBatch } from "../engine.js";
import { binCentricFill } from "./fill.js";
import { needsOf, PackModel } from "./model.js";
import { better, refinePack } from "./portfolio.js";
import { replay } from "./replay.js";
import { FILTERS } from "../registry.js";
import { allocatable } from "../resources.js";
import type { BatchResult, NodeSnapshot, PlacementOptions, VmRequest } from "../types.js";
import { WorkingNode, type BatchState } from "../working.js";

// Heterogeneous clusters: some hosts not READY, some partly used, over-commit ratios, odd sizes.
const node = (name: string): fc.Arbitrary<NodeSnapshot> =>
  fc
    .record({
      state: fc.constantFrom("READY", "READY", "READY", "READY", "CORDONED", "DOWN"),
      cap: fc.constantFrom<[number, number, number]>([8, 32, 500], [16, 64, 1000], [64, 256, 2000], [4, 128, 100]),
      ratios: fc.tuple(fc.constantFrom(1, 1.5, 4), fc.constantFrom(1, 1.2)),
      used: fc.oneof({ arbitrary: fc.constant(0), weight: 3 }, { arbitrary: fc.double({ min: 0, max: 1, noNaN: true }), weight: 1 }),
      labels: fc.constantFrom<Record<string, string>>({}, { zone: "a" }),
    })
    .map(({ state, cap, ratios, used, labels }) => {
      const n: NodeSnapshot = {
        name,
        state,
        capacity: { vcpus: cap[0], memoryMib: cap[1], diskGib: cap[2] },
        reserved: { vcpus: 0, memoryMib: 0, diskGib: 0 },
        ratios: { cpu: ratios[0], memory: ratios[1], disk: 1 },
        allocated: { vcpus: 0, memoryMib: 0, diskGib: 0 },
        labels,
        groups: {},
      };
      const a = allocatable(n);
      n.allocated = { vcpus: Math.floor(a.vcpus * used), memoryMib: Math.floor(a.memoryMib * used), diskGib: Math.floor(a.diskGib * used) };
      return n;
    });

const plainVm = (key: string): fc.Arbitrary<VmRequest> =>
  fc
    .tuple(fc.integer({ min: 0, max: 24 }), fc.integer({ min: 0, max: 96 }), fc.constantFrom(0, 0, 10, 200))
    .map(([vcpus, memoryMib, diskGib]) => ({ key, resources: { vcpus, memoryMib, diskGib }, constraints: [], preferences: [] }));

const sized = <T>(max: number, item: (i: number) => fc.Arbitrary<T>) =>
  fc.integer({ min: 2, max }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => item(i))));

const input = fc.record({
  nodes: sized(14, (i) => node(`n${String(i).padStart(2, "0")}`)),
  vms: sized(30, (i) => plainVm(`vm-${String(i).padStart(2, "0")}`)),
  seed: fc.string({ maxLength: 4 }),
});
const RUNS = { numRuns: 300 };

/** Every placement passes every filter when the batch's VMs are booked in result order. */
function expectValid(nodes: readonly NodeSnapshot[], vms: readonly VmRequest[], r: BatchResult): void {
  const work = nodes.map((s, i) => new WorkingNode(i, s));
  const state: BatchState = { nodes: work, affinityAnchor: new Map() };
  const byKey = new Map(vms.map((v) => [v.key, v]));
  const seen = new Set<string>();
  for (const p of r.placements) {
    expect(seen.has(p.key)).toBe(false);
    seen.add(p.key);
    const vm = byKey.get(p.key)!;
    const n = work.find((w) => w.name === p.node)!;
    for (const f of FILTERS) expect(f.filter(n, vm, state)).toBeNull();
    n.take(vm.resources, []);
  }
}

const openedCount = (nodes: readonly NodeSnapshot[], r: BatchResult) => {
  const empty = new Set(nodes.filter((n) => n.allocated.vcpus === 0 && n.allocated.memoryMib === 0 && n.allocated.diskGib === 0).map((n) => n.name));
  return new Set(r.placements.map((p) => p.node).filter((n) => empty.has(n))).size;
};

describe("pack refinement of plain batches", () => {
  it("every placement passes every filter, and placeBatch is deterministic", () => {
    fc.assert(
      fc.property(input, ({ nodes, vms, seed }) => {
        const r = placeBatch(nodes, vms, { strategy: "pack", seed });
        expectValid(nodes, vms, r);
        expect(placeBatch(nodes, vms, { strategy: "pack", seed })).toEqual(r);
      }),
      RUNS,
    );
  });

  it("never places fewer VMs or opens more empty nodes than the result it refines", () => {
    fc.assert(
      fc.property(input, ({ nodes, vms, seed }) => {
        // Spread's placements are a valid but poorly packed starting point.
        const start = placeBatch(nodes, vms, { strategy: "spread", seed });
        const options: PlacementOptions = { strategy: "pack", seed };
        const r = refinePack(nodes, vms, options, start);
        expectValid(nodes, vms, r);
        expect(r.placements.length).toBe(start.placements.length);
        expect(openedCount(nodes, r)).toBeLessThanOrEqual(openedCount(nodes, start));
        if (r !== start) expect(better(r, start, nodes)).toBe(true);
      }),
      RUNS,
    );
  });

  it("replay reports the feasible nodes a full scan would count at each step", () => {
    fc.assert(
      fc.property(input, ({ nodes, vms, seed }) => {
        const fill = binCentricFill(new PackModel(nodes), vms, needsOf(vms), seed);
        if (fill === null) return;
        const r = replay(nodes, vms, { strategy: "pack", seed }, fill)!;
        expect(r).not.toBeNull();
        const work = nodes.map((s, i) => new WorkingNode(i, s));
        const state: BatchState = { nodes: work, affinityAnchor: new Map() };
        r.placements.forEach((p, i) => {
          const vm = vms[fill.order[i]!]!;
          expect(p.key).toBe(vm.key);
          const feasible = work.filter((n) => FILTERS.every((f) => f.filter(n, vm, state) === null)).length;
          expect(p.feasibleNodes).toBe(feasible);
          work.find((w) => w.name === p.node)!.take(vm.resources, []);
        });
      }),
      RUNS,
    );
  });
});
