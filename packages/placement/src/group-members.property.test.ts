import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { placeBatch } from "./engine.js";
import { NodeList } from "./node-list.js";
import { placePass } from "./pass.js";
import { scorerPlan } from "./scorer-plan.js";
import { parseLabelExpression } from "./labels.js";
import type { BatchResult, GroupMembers, LabelExpression, NodeSnapshot, PlacementOptions, VmRequest } from "./types.js";

// The group fast paths (PlacementOptions.groupMembers, and the anchor decision it enables) against
// the slow path they replace: the same members written into every snapshot's `groups`, which the
// engine reads by passing over every node. Same decision, node for node and score for score.

const GROUPS = ["g1", "g2", "g3", "g4"];
const EXPRS = ["zone=a", "zone!=b", "ssd"].map(parseLabelExpression);

interface Drawn {
  nodes: { state: NodeSnapshot["state"]; cpu: number; used: number; members: Record<string, number>; zone: string; ssd: boolean }[];
  vms: VmRequest[];
  options: PlacementOptions;
  /** Groups whose members go in groupMembers (the rest stay in the snapshots on both paths). */
  passed: string[];
  /** A snapshot count for a passed group that groupMembers overrides (it must be ignored). */
  stale: boolean;
  list: boolean;
}

const memberCounts = fc.dictionary(fc.constantFrom(...GROUPS), fc.integer({ min: 0, max: 3 }), { maxKeys: 3 });

const nodeArb = fc.record({
  state: fc.constantFrom<NodeSnapshot["state"]>("READY", "READY", "READY", "READY", "CORDONED", "DOWN"),
  cpu: fc.constantFrom(4, 8, 16, 64),
  used: fc.integer({ min: 0, max: 4 }),
  members: fc.oneof({ arbitrary: fc.constant({}), weight: 2 }, { arbitrary: memberCounts, weight: 1 }),
  zone: fc.constantFrom("a", "b", "c"),
  ssd: fc.boolean(),
});

const vmArb = (key: string): fc.Arbitrary<VmRequest> =>
  fc
    .record({
      cpu: fc.integer({ min: 1, max: 8 }),
      anti: fc.option(fc.constantFrom(...GROUPS), { nil: undefined, freq: 2 }),
      aff: fc.option(fc.constantFrom(...GROUPS), { nil: undefined, freq: 2 }),
      soft: fc.option(fc.constantFrom(...GROUPS), { nil: undefined, freq: 3 }),
      constraints: fc.oneof({ arbitrary: fc.constant<LabelExpression[]>([]), weight: 3 }, { arbitrary: fc.subarray(EXPRS, { maxLength: 2 }), weight: 1 }),
      preferences: fc.oneof({ arbitrary: fc.constant<LabelExpression[]>([]), weight: 3 }, { arbitrary: fc.subarray(EXPRS, { maxLength: 1 }), weight: 1 }),
    })
    .map(({ cpu, anti, aff, soft, constraints, preferences }) => ({
      key,
      resources: { vcpus: cpu, memoryMib: 1024 * cpu, diskGib: 10 },
      constraints,
      preferences,
      ...(anti ? { antiAffinityGroup: anti } : {}),
      ...(aff ? { affinityGroup: aff } : {}),
      ...(soft ? { softAntiAffinityGroup: soft } : {}),
    }));

const drawn: fc.Arbitrary<Drawn> = fc.record({
  // Up to 300 nodes: above 256 spread samples and pack searches its best-fit tree.
  nodes: fc.oneof(fc.array(nodeArb, { maxLength: 12 }), fc.array(nodeArb, { minLength: 257, maxLength: 300 })),
  vms: fc.integer({ min: 1, max: 6 }).chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => vmArb(`vm-${i}`)))),
  options: fc.record({
    strategy: fc.constantFrom("spread" as const, "pack" as const),
    seed: fc.string({ maxLength: 4 }),
    maxCandidates: fc.option(fc.integer({ min: 1, max: 64 }), { nil: undefined }),
  }).map(({ maxCandidates, ...o }): PlacementOptions => (maxCandidates === undefined ? o : { ...o, maxCandidates })),
  passed: fc.subarray(GROUPS),
  stale: fc.boolean(),
  list: fc.boolean(),
});

function snapshot(i: number, n: Drawn["nodes"][number], groups: Record<string, number>): NodeSnapshot {
  return {
    name: `n${String(i).padStart(3, "0")}`,
    state: n.state,
    capacity: { vcpus: n.cpu, memoryMib: 1024 * n.cpu, diskGib: 1000 },
    reserved: { vcpus: 0, memoryMib: 0, diskGib: 0 },
    ratios: { cpu: 1, memory: 1, disk: 1 },
    allocated: { vcpus: Math.min(n.used, n.cpu), memoryMib: 1024 * Math.min(n.used, n.cpu), diskGib: 0 },
    labels: { zone: n.zone, ...(n.ssd ? { ssd: "true" } : {}) },
    groups,
  };
}

/** Both inputs: every member in the snapshots (slow), or the passed groups' members in groupMembers (fast). */
function inputs(d: Drawn): { slow: NodeSnapshot[]; fast: NodeSnapshot[]; members: GroupMembers } {
  const members = new Map<string, Map<string, number>>(d.passed.map((g) => [g, new Map()]));
  const slow: NodeSnapshot[] = [];
  const fast: NodeSnapshot[] = [];
  d.nodes.forEach((n, i) => {
    const name = snapshot(i, n, {}).name;
    const kept: Record<string, number> = {};
    for (const [g, c] of Object.entries(n.members)) {
      const m = members.get(g);
      if (m === undefined) kept[g] = c;
      // A 0 stays in the map: it means no member, as absent does.
      else m.set(name, c);
    }
    // Overridden by groupMembers, so a wrong count here must not change the decision.
    if (d.stale) for (const g of d.passed) kept[g] = 9;
    slow.push(snapshot(i, n, n.members));
    fast.push(snapshot(i, n, kept));
  });
  // A member on a node that is not in the input is ignored, as the snapshots cannot show it.
  members.get(d.passed[0] ?? "")?.set("gone", 5);
  return { slow, fast, members };
}

/** What a decision is, apart from how many nodes it looked at (the fast paths look at fewer). */
function decisions(r: BatchResult): unknown {
  return {
    placements: r.placements.map(({ key, node, score, scores }) => ({ key, node, score, scores })),
    unplaced: r.unplaced,
  };
}

describe("placeBatch with groupMembers", () => {
  it("gives the result it gives with the members in every snapshot", () => {
    fc.assert(
      fc.property(drawn, (d) => {
        const { slow, fast, members } = inputs(d);
        const want = placeBatch(slow, d.vms, d.options);
        const got = placeBatch(d.list ? new NodeList(fast) : fast, d.vms, { ...d.options, groupMembers: members });
        expect(got).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });

  it("decides as a full scan of every node with the members in the snapshots (anchor, best fit and groupMembers fast paths off)", () => {
    fc.assert(
      fc.property(drawn, (d) => {
        const { slow, fast, members } = inputs(d);
        const options = { ...d.options, groupMembers: members };
        const got = placePass(fast, d.vms, options, scorerPlan(options), "blend", true, d.list ? new NodeList(fast) : undefined);
        const want = placePass(slow, d.vms, d.options, scorerPlan(d.options), "blend", false);
        expect(decisions(got)).toEqual(decisions(want));
        // An anchored member is decided on its anchor alone.
        for (const p of got.placements) {
          const vm = d.vms.find((v) => v.key === p.key)!;
          if (vm.affinityGroup && slow.some((n) => (n.groups[vm.affinityGroup!] ?? 0) > 0)) expect(p.evaluatedNodes).toBe(1);
        }
      }),
      { numRuns: 400 },
    );
  });

  it("counts the members of groupMembers when they change between calls on one NodeList", () => {
    const nodes = Array.from({ length: 300 }, (_, i) => snapshot(i, { state: "READY", cpu: 16, used: 0, members: {}, zone: "a", ssd: false }, {}));
    const list = new NodeList(nodes);
    const members = new Map([["web", new Map<string, number>()]]);
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) {
      const vm: VmRequest = { key: `vm-${i}`, resources: { vcpus: 1, memoryMib: 1024, diskGib: 1 }, constraints: [], preferences: [], antiAffinityGroup: "web" };
      const p = placeBatch(list, [vm], { strategy: "spread", seed: "s", maxCandidates: 64, groupMembers: members }).placements[0];
      expect(p).toBeDefined();
      expect(seen.has(p!.node)).toBe(false);
      seen.add(p!.node);
      members.get("web")!.set(p!.node, 1);
    }
    const full = placeBatch(list, [{ key: "last", resources: { vcpus: 1, memoryMib: 1024, diskGib: 1 }, constraints: [], preferences: [], antiAffinityGroup: "web" }], {
      strategy: "spread",
      seed: "s",
      groupMembers: members,
    });
    expect(full.unplaced[0]?.message).toBe("300 nodes: anti-affinity (group web)");
  });
});
