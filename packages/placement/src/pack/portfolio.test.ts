import { describe, expect, it } from "vitest";
import { placeBatch } from "../engine.js";
import { parseLabelExpression } from "../labels.js";
import { plainBatch, refinePack } from "./portfolio.js";
import { replay } from "./replay.js";
import { makeNode, makeVm, type VmInit } from "../testing.js";
import type { PlacementOptions } from "../types.js";

const host = (name: string, state: "READY" | "DOWN" = "READY") => makeNode(name, { state, capacity: { vcpus: 10, memoryMib: 10, diskGib: 10 } });
const pack: PlacementOptions = { strategy: "pack", seed: "s" };

describe("plainBatch", () => {
  const nodes = [host("a"), host("b")];
  it.each<{ what: string; vm: VmInit; options?: Partial<PlacementOptions>; want: boolean }>([
    { what: "bare VMs", vm: {}, want: true },
    { what: "a neutral extra scorer", vm: {}, options: { scorers: [{ name: "label-preference", weight: 3 }] }, want: true },
    { what: "another scorer that applies to none of the VMs", vm: {}, options: { scorers: [{ name: "soft-anti-affinity", weight: 1 }] }, want: true },
    { what: "the strategy's own scorer reweighted", vm: {}, options: { scorers: [{ name: "pack", weight: 3 }] }, want: true },
    { what: "a ranking scorer at weight 0", vm: {}, options: { scorers: [{ name: "spread", weight: 0 }] }, want: true },
    { what: "a constraint", vm: { constraints: [parseLabelExpression("zone=a")] }, want: false },
    { what: "a preference", vm: { preferences: [parseLabelExpression("zone=a")] }, want: false },
    { what: "an affinity group", vm: { affinityGroup: "g" }, want: false },
    { what: "an anti-affinity group", vm: { antiAffinityGroup: "g" }, want: false },
    { what: "a soft anti-affinity group", vm: { softAntiAffinityGroup: "g" }, want: false },
    { what: "a scorer that ranks nodes", vm: {}, options: { scorers: [{ name: "first-fit", weight: 1 }] }, want: false },
    { what: "a limited scan", vm: {}, options: { maxCandidates: 1 }, want: false },
  ])("$what: $want", ({ vm, options, want }) => {
    const vms = [makeVm("x"), makeVm("y", vm)];
    expect(plainBatch(nodes, vms, { ...pack, ...options })).toBe(want);
  });
});

describe("replay", () => {
  const vms = [makeVm("x", { resources: { vcpus: 6, memoryMib: 1, diskGib: 0 } }), makeVm("y", { resources: { vcpus: 6, memoryMib: 1, diskGib: 0 } })];
  it.each([
    { what: "two VMs that do not fit together", nodes: [host("a"), host("b")], nodeOf: [0, 0] },
    { what: "a node that is DOWN", nodes: [host("a"), host("b", "DOWN")], nodeOf: [0, 1] },
    { what: "a node that does not exist", nodes: [host("a")], nodeOf: [0, 1] },
  ])("refuses $what", ({ nodes, nodeOf }) => {
    expect(replay(nodes, vms, pack, { order: Int32Array.from([0, 1]), nodeOf: Int32Array.from(nodeOf) })).toBeNull();
  });

  it("scores and counts like a full scan", () => {
    const r = replay([host("a"), host("b")], vms, pack, { order: Int32Array.from([1, 0]), nodeOf: Int32Array.from([0, 1]) })!;
    expect(r.placements.map((p) => [p.key, p.node, p.feasibleNodes, p.evaluatedNodes, p.score])).toEqual([
      ["y", "b", 2, 2, 35],
      ["x", "a", 1, 2, 35],
    ]);
  });
});

describe("pack batches of plain VMs", () => {
  it("use two hosts where best fit and first-fit-decreasing alone open three", () => {
    // Two hosts do it: (6,5)+(4,2) and (6,2)+(3,4)+(1,3). Without the refinement the engine opened 3.
    const sizes: [number, number][] = [[6, 5], [3, 4], [4, 2], [1, 3], [6, 2]];
    const vms = sizes.map(([vcpus, memoryMib], i) => makeVm(`v${i}`, { resources: { vcpus, memoryMib, diskGib: 0 } }));
    const nodes = sizes.map((_, i) => host(`h${i}`));
    const r = placeBatch(nodes, vms, pack);
    expect(r.unplaced).toEqual([]);
    expect(new Set(r.placements.map((p) => p.node)).size).toBe(2);
    // A scorer that ranks nodes turns the refinement off: the engine's own passes need three.
    const own = placeBatch(nodes, vms, { ...pack, scorers: [{ name: "spread", weight: 1e-9 }] });
    expect(new Set(own.placements.map((p) => p.node)).size).toBe(3);
  });

  it("leave a batch that opens no empty node as it is (nothing to win)", () => {
    const nodes = [makeNode("used", { capacity: { vcpus: 10, memoryMib: 10, diskGib: 10 }, allocated: { vcpus: 1 } }), host("empty")];
    const vms = [makeVm("x", { resources: { vcpus: 2, memoryMib: 2, diskGib: 0 } }), makeVm("y", { resources: { vcpus: 2, memoryMib: 2, diskGib: 0 } })];
    const current = placeBatch(nodes, vms, pack);
    expect(current.placements.map((p) => p.node)).toEqual(["used", "used"]);
    expect(refinePack(nodes, vms, pack, current)).toBe(current);
  });
});
