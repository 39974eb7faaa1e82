import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { placeBatch, placeBatchInSteps } from "./engine.js";
import { NodeList } from "./node-list.js";
import { matchesLabel, parseLabelExpression } from "./labels.js";
import { allocatable } from "./resources.js";
import type { LabelExpression, NodeSnapshot, PlacementOptions, VmRequest } from "./types.js";

// Small vocabularies so constraints, groups and ties actually collide.
const ZONES = ["a", "b", "c"];
const EXPRS = ["zone=a", "zone!=b", "zone in (a,c)", "zone notin (a)", "ssd", "!ssd", "gpu"].map(parseLabelExpression);
const GROUPS = ["g1", "g2", "g3"];

// Share of allocatable already claimed: mostly empty, sometimes partial, now and then exactly full.
const usedShare = fc.oneof(
  { arbitrary: fc.constant(0), weight: 3 },
  { arbitrary: fc.double({ min: 0, max: 1, noNaN: true }), weight: 2 },
  { arbitrary: fc.constant(1), weight: 1 },
);

const node = (name: string): fc.Arbitrary<NodeSnapshot> =>
  fc
    .record({
      state: fc.constantFrom("READY", "READY", "READY", "READY", "READY", "CORDONED", "DRAINING", "DOWN"),
      // Host sizes from a few presets plus odd ones, so most batches place something and some hosts are tiny.
      cap: fc.oneof(
        fc.constantFrom<[number, number, number]>([8, 32768, 500], [16, 65536, 1000], [64, 262144, 2000]),
        fc.tuple(fc.integer({ min: 1, max: 64 }), fc.integer({ min: 0, max: 131072 }), fc.integer({ min: 0, max: 2000 })),
      ),
      ratios: fc.tuple(fc.constantFrom(0.9, 1, 1.5, 2, 4), fc.constantFrom(1, 1.2, 1.5), fc.constantFrom(1, 1.1)),
      res: fc.tuple(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 0, max: 4096 }), fc.integer({ min: 0, max: 100 })),
      used: fc.tuple(usedShare, usedShare, usedShare),
      zone: fc.option(fc.constantFrom(...ZONES), { nil: undefined }),
      ssd: fc.boolean(),
      gpu: fc.boolean(),
      groups: fc.dictionary(fc.constantFrom(...GROUPS), fc.integer({ min: 0, max: 2 }), { maxKeys: 2 }),
    })
    .map(({ state, cap, ratios, res, used, zone, ssd, gpu, groups }) => {
      const n: NodeSnapshot = {
        name,
        state,
        capacity: { vcpus: cap[0], memoryMib: cap[1], diskGib: cap[2] },
        reserved: { vcpus: res[0], memoryMib: res[1], diskGib: res[2] },
        ratios: { cpu: ratios[0], memory: ratios[1], disk: ratios[2] },
        allocated: { vcpus: 0, memoryMib: 0, diskGib: 0 },
        labels: { ...(zone ? { zone } : {}), ...(ssd ? { ssd: "true" } : {}), ...(gpu ? { gpu: "1" } : {}) },
        groups,
      };
      // Pre-existing claims stay within allocatable, as the store guarantees.
      const a = allocatable(n);
      n.allocated = { vcpus: Math.floor(a.vcpus * used[0]), memoryMib: Math.floor(a.memoryMib * used[1]), diskGib: Math.floor(a.diskGib * used[2]) };
      return n;
    });

const cluster = fc.integer({ min: 0, max: 16 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => node(`n${i}`))));

const vm = (key: string): fc.Arbitrary<VmRequest> =>
  fc
    .record({
      r: fc.tuple(fc.integer({ min: 1, max: 16 }), fc.constantFrom(0, 512, 2048, 4096, 16384, 65536), fc.constantFrom(0, 10, 50, 200)),
      constraints: fc.oneof(fc.constant<LabelExpression[]>([]), fc.subarray(EXPRS, { maxLength: 2 })),
      preferences: fc.subarray(EXPRS, { maxLength: 2 }),
      anti: fc.option(fc.constantFrom(...GROUPS), { nil: undefined, freq: 2 }),
      aff: fc.option(fc.constantFrom(...GROUPS), { nil: undefined, freq: 2 }),
      soft: fc.option(fc.constantFrom(...GROUPS), { nil: undefined, freq: 2 }),
    })
    .map(({ r, constraints, preferences, anti, aff, soft }) => ({
      key,
      resources: { vcpus: r[0], memoryMib: r[1], diskGib: r[2] },
      constraints,
      preferences,
      ...(anti ? { antiAffinityGroup: anti } : {}),
      ...(aff ? { affinityGroup: aff } : {}),
      ...(soft ? { softAntiAffinityGroup: soft } : {}),
    }));

const batch = fc.integer({ min: 0, max: 16 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => vm(`vm-${i}`))));

const options: fc.Arbitrary<PlacementOptions> = fc.record({
  strategy: fc.constantFrom("spread" as const, "pack" as const),
  seed: fc.string({ maxLength: 6 }),
  maxCandidates: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
}).map(({ maxCandidates, ...o }) => (maxCandidates === undefined ? o : { ...o, maxCandidates }));

const input = fc.record({ nodes: cluster, vms: batch, options });
const RUNS = { numRuns: 300 };

describe("placeBatch properties", () => {
  it("placed in steps, decides what one call does, whatever happens to the list and the engine between steps", () => {
    fc.assert(
      fc.property(input, fc.integer({ min: 1, max: 5 }), ({ nodes, vms, options }, step) => {
        const whole = placeBatch(nodes, vms, options);
        const list = new NodeList(nodes);
        const steps: ReturnType<typeof placeBatch>[] = [];
        for (const s of placeBatchInSteps(list, vms, options, step)) {
          steps.push(s);
          // Between steps the caller counts the step into its list and places another batch on it.
          for (const p of s.placements) {
            const i = nodes.findIndex((n) => n.name === p.node);
            const n = list.snapshots[i]!;
            list.set(i, { ...n, allocated: { ...n.allocated, vcpus: n.allocated.vcpus + 1 } });
          }
          placeBatch(list, vms.slice(0, 3), { ...options, seed: "other" });
        }
        if (options.strategy === "spread") expect(steps.length).toBe(Math.max(1, Math.ceil(vms.length / step)));
        expect({ placements: steps.flatMap((s) => s.placements), unplaced: steps.flatMap((s) => s.unplaced) }).toEqual(whole);
      }),
      RUNS,
    );
  });

  it("never exceeds allocatable on any node for any resource", () => {
    fc.assert(
      fc.property(input, ({ nodes, vms, options }) => {
        const r = placeBatch(nodes, vms, options);
        const byKey = new Map(vms.map((v) => [v.key, v]));
        for (const n of nodes) {
          const a = allocatable(n);
          const sum = { ...n.allocated };
          for (const p of r.placements.filter((p) => p.node === n.name)) {
            const v = byKey.get(p.key)!;
            sum.vcpus += v.resources.vcpus;
            sum.memoryMib += v.resources.memoryMib;
            sum.diskGib += v.resources.diskGib;
          }
          expect(sum.vcpus).toBeLessThanOrEqual(a.vcpus);
          expect(sum.memoryMib).toBeLessThanOrEqual(a.memoryMib);
          expect(sum.diskGib).toBeLessThanOrEqual(a.diskGib);
        }
      }),
      RUNS,
    );
  });

  it("places every VM or explains it, exactly once, with counts covering every node", () => {
    fc.assert(
      fc.property(input, ({ nodes, vms, options }) => {
        const r = placeBatch(nodes, vms, options);
        const keys = [...r.placements.map((p) => p.key), ...r.unplaced.map((u) => u.key)].sort();
        expect(keys).toEqual(vms.map((v) => v.key).sort());
        for (const u of r.unplaced) {
          expect(u.reasons.reduce((s, x) => s + x.nodes, 0)).toBe(nodes.length);
          for (let i = 1; i < u.reasons.length; i++) expect(u.reasons[i - 1]!.nodes).toBeGreaterThanOrEqual(u.reasons[i]!.nodes);
          expect(u.message.length).toBeGreaterThan(0);
          // A resource reason's "largest free" covers only the nodes it rejected, so it is below the need.
          for (const r of u.reasons) {
            const m = /^need (\d+) \S+, largest free among them (\d+) \S+$/.exec(r.detail);
            if (r.reason.startsWith("insufficient_")) expect(Number(m![2])).toBeLessThan(Number(m![1]));
          }
        }
        for (const p of r.placements) {
          expect(p.score).toBeGreaterThanOrEqual(0);
          expect(p.score).toBeLessThanOrEqual(100);
          expect(p.feasibleNodes).toBeGreaterThanOrEqual(1);
          expect(p.evaluatedNodes).toBeLessThanOrEqual(nodes.length);
          if (options.maxCandidates !== undefined) expect(p.feasibleNodes).toBeLessThanOrEqual(options.maxCandidates);
        }
      }),
      RUNS,
    );
  });

  it("places only on READY nodes that satisfy the constraints", () => {
    fc.assert(
      fc.property(input, ({ nodes, vms, options }) => {
        const r = placeBatch(nodes, vms, options);
        const byName = new Map(nodes.map((n) => [n.name, n]));
        const byKey = new Map(vms.map((v) => [v.key, v]));
        for (const p of r.placements) {
          const n = byName.get(p.node)!;
          expect(n.state).toBe("READY");
          for (const c of byKey.get(p.key)!.constraints) expect(matchesLabel(c, n.labels)).toBe(true);
        }
      }),
      RUNS,
    );
  });

  it("keeps anti-affinity members apart and affinity members together", () => {
    fc.assert(
      fc.property(input, ({ nodes, vms, options }) => {
        const r = placeBatch(nodes, vms, options);
        const byName = new Map(nodes.map((n) => [n.name, n]));
        const byKey = new Map(vms.map((v) => [v.key, v]));
        const anti = new Map<string, Set<string>>();
        const aff = new Map<string, Set<string>>();
        for (const p of r.placements) {
          const v = byKey.get(p.key)!;
          if (v.antiAffinityGroup) {
            const g = v.antiAffinityGroup;
            expect(byName.get(p.node)!.groups[g] ?? 0).toBe(0); // no pre-existing member there
            const seen = anti.get(g) ?? new Set();
            expect(seen.has(p.node)).toBe(false); // no batch member there
            anti.set(g, seen.add(p.node));
          }
          if (v.affinityGroup) aff.set(v.affinityGroup, (aff.get(v.affinityGroup) ?? new Set()).add(p.node));
        }
        for (const [g, on] of aff) {
          expect(on.size).toBe(1);
          const existing = nodes.filter((n) => (n.groups[g] ?? 0) > 0);
          if (existing.length > 0) expect(existing.map((n) => n.name)).toContain([...on][0]);
        }
      }),
      RUNS,
    );
  });

  it("is deterministic and independent of the VMs' input order", () => {
    fc.assert(
      fc.property(input, ({ nodes, vms, options }) => {
        const a = placeBatch(nodes, vms, options);
        expect(placeBatch(structuredClone(nodes), structuredClone(vms), { ...options })).toEqual(a);
        const b = placeBatch(nodes, [...vms].reverse(), options);
        const sorted = (r: typeof a) => ({
          placements: [...r.placements].sort((x, y) => (x.key < y.key ? -1 : 1)),
          unplaced: [...r.unplaced].sort((x, y) => (x.key < y.key ? -1 : 1)),
        });
        expect(sorted(b)).toEqual(sorted(a));
      }),
      RUNS,
    );
  });

  it("does not mutate its inputs", () => {
    fc.assert(
      fc.property(input, ({ nodes, vms, options }) => {
        const before = structuredClone({ nodes, vms, options });
        placeBatch(nodes, vms, options);
        expect({ nodes, vms, options }).toEqual(before);
      }),
      { numRuns: 100 },
    );
  });
});
