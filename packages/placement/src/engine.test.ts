import { describe, expect, it } from "vitest";
import { placeBatch } from "./engine.js";
import { parseLabelExpression } from "./labels.js";
import { allocatable } from "./resources.js";
import { makeNode, makeVm } from "./testing.js";
import type { BatchResult, NodeSnapshot, PlacementOptions, VmRequest } from "./types.js";

const spread: PlacementOptions = { strategy: "spread", seed: "s" };
const pack: PlacementOptions = { strategy: "pack", seed: "s" };
const where = (r: BatchResult) => Object.fromEntries(r.placements.map((p) => [p.key, p.node]));
const cpuVm = (key: string, vcpus: number, extra: Parameters<typeof makeVm>[1] = {}) =>
  makeVm(key, { resources: { vcpus, memoryMib: 0, diskGib: 0 }, ...extra });

function deepFreeze<T>(o: T): T {
  if (o && typeof o === "object") {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

describe("placeBatch", () => {
  it("places a batch jointly without exceeding allocatable", () => {
    const nodes = [makeNode("a"), makeNode("b")]; // 16 vCPUs each
    const vms = ["1", "2", "3", "4", "5"].map((k) => cpuVm(k, 6));
    const r = placeBatch(nodes, vms, spread);
    expect(r.placements).toHaveLength(4);
    expect(r.unplaced.map((u) => u.key)).toHaveLength(1);
    for (const n of nodes) {
      const used = r.placements.filter((p) => p.node === n.name).length * 6;
      expect(used).toBeLessThanOrEqual(allocatable(n).vcpus);
    }
    expect(r.unplaced[0]!.message).toBe("2 nodes: insufficient cpu (need 6 vCPUs, largest free among them 4 vCPUs)");
  });

  it("places the largest VM first", () => {
    const nodes = [makeNode("a")];
    const r = placeBatch(nodes, [cpuVm("small", 4), cpuVm("big", 14)], spread);
    expect(where(r)).toEqual({ big: "a" });
    expect(r.unplaced.map((u) => u.key)).toEqual(["small"]);
    expect(r.placements.map((p) => p.key)).toEqual(["big"]);
  });

  it("spread and pack choose different nodes", () => {
    const nodes = [makeNode("empty"), makeNode("busy", { allocated: { vcpus: 8, memoryMib: 32768 } })];
    const vm = makeVm("v");
    expect(where(placeBatch(nodes, [vm], spread))).toEqual({ v: "empty" });
    expect(where(placeBatch(nodes, [vm], pack))).toEqual({ v: "busy" });
  });

  it("pack fills one node before the next; spread alternates", () => {
    const nodes = [makeNode("a"), makeNode("b")];
    const vms = ["1", "2", "3", "4"].map((k) => makeVm(k));
    expect(new Set(Object.values(where(placeBatch(nodes, vms, pack)))).size).toBe(1);
    const s = Object.values(where(placeBatch(nodes, vms, spread)));
    expect(s.filter((n) => n === "a")).toHaveLength(2);
  });

  it("explains an unplaced VM exactly", () => {
    const nodes = [
      ...Array.from({ length: 10 }, (_, i) => makeNode(`r${i}`, { capacity: { memoryMib: 8192 }, allocated: { memoryMib: 4096 + i * 100 } })),
      makeNode("c1", { state: "CORDONED" }),
      makeNode("c2", { state: "CORDONED" }),
    ];
    const r = placeBatch(nodes, [makeVm("v", { resources: { memoryMib: 8192 } })], spread);
    expect(r.placements).toEqual([]);
    expect(r.unplaced).toEqual([
      {
        key: "v",
        reasons: [
          { reason: "insufficient_memory", nodes: 10, detail: "need 8192 MiB, largest free among them 4096 MiB" },
          { reason: "cordoned", nodes: 2, detail: "" },
        ],
        message: "10 nodes: insufficient memory (need 8192 MiB, largest free among them 4096 MiB); 2 nodes: cordoned",
      },
    ]);
  });

  it("counts each node under the first filter that rejects it, so counts add up", () => {
    const nodes = [
      makeNode("down-and-full", { state: "DOWN", allocated: { vcpus: 16 } }),
      makeNode("draining", { state: "DRAINING" }),
      makeNode("full-and-wrong-zone", { allocated: { vcpus: 16 }, labels: { zone: "b" } }),
      makeNode("wrong-zone", { labels: { zone: "b" } }),
      makeNode("wrong-zone-2", { labels: { zone: "c" } }),
      makeNode("no-disk", { capacity: { diskGib: 5 }, labels: { zone: "a" } }),
    ];
    const vm = makeVm("v", { constraints: [parseLabelExpression("zone=a")] });
    const [u] = placeBatch(nodes, [vm], spread).unplaced;
    expect(u!.reasons.map((r) => [r.reason, r.nodes])).toEqual([
      ["label_constraint", 2],
      ["draining", 1],
      ["down", 1],
      ["insufficient_cpu", 1],
      ["insufficient_disk", 1],
    ]);
    expect(u!.reasons.reduce((s, r) => s + r.nodes, 0)).toBe(nodes.length);
    expect(u!.message).toBe(
      "2 nodes: label constraint (zone=a); 1 node: draining; 1 node: down; 1 node: insufficient cpu (need 2 vCPUs, largest free among them 0 vCPUs); 1 node: insufficient disk (need 20 GiB, largest free among them 5 GiB)",
    );
  });

  it("takes a resource's largest free figure over the nodes that reason rejected, not every node", () => {
    // Plenty of free memory, but each is rejected for another reason first (or instead).
    const roomy = { capacity: { memoryMib: 262144 } };
    const nodes = [
      makeNode("tight-1", { capacity: { memoryMib: 8192 }, allocated: { memoryMib: 6144 } }), // 2048 MiB free
      makeNode("tight-2", { capacity: { memoryMib: 8192 }, allocated: { memoryMib: 5120 }, labels: { zone: "b" } }), // 3072 free
      makeNode("cordoned", { ...roomy, state: "CORDONED" }),
      makeNode("no-cpu", { ...roomy, allocated: { vcpus: 16 } }),
      makeNode("wrong-zone", { ...roomy, labels: { zone: "b" } }),
    ];
    const vm = makeVm("v", { resources: { memoryMib: 4096 }, constraints: [parseLabelExpression("zone!=b")] });
    const [u] = placeBatch(nodes, [vm], spread).unplaced;
    const memory = u!.reasons.find((r) => r.reason === "insufficient_memory")!;
    expect(memory.nodes).toBe(2);
    // The figure alone: before the fix it was 262144 (the roomy nodes), above what the VM needs.
    expect(Number(/largest free(?: among them)? (\d+) MiB/.exec(memory.detail)?.[1])).toBe(3072);
    expect(u!.message).toBe(
      "2 nodes: insufficient memory (need 4096 MiB, largest free among them 3072 MiB); 1 node: cordoned; 1 node: insufficient cpu (need 2 vCPUs, largest free among them 0 vCPUs); 1 node: label constraint (zone!=b)",
    );
  });

  it("reports an empty cluster", () => {
    expect(placeBatch([], [makeVm("v")], spread).unplaced).toEqual([{ key: "v", reasons: [], message: "no nodes in the cluster" }]);
  });

  it("is deterministic and the seed breaks ties", () => {
    const nodes = Array.from({ length: 20 }, (_, i) => makeNode(`n${i}`));
    const vms = [makeVm("v1"), makeVm("v2"), makeVm("v3")];
    const first = placeBatch(nodes, vms, spread);
    expect(placeBatch(nodes, vms, spread)).toEqual(first);
    expect(placeBatch([...nodes].reverse(), [...vms].reverse(), spread).placements.map((p) => p.node).sort()).toEqual(
      first.placements.map((p) => p.node).sort(),
    );
    const chosen = new Set(Array.from({ length: 10 }, (_, i) => where(placeBatch(nodes, [vms[0]!], { ...spread, seed: `seed-${i}` })).v1));
    expect(chosen.size).toBeGreaterThan(1);
  });

  it("keeps hard anti-affinity members apart within a batch", () => {
    const nodes = [makeNode("a"), makeNode("b"), makeNode("c", { groups: { web: 1 } }), makeNode("d")];
    const vms = ["w1", "w2", "w3", "w4"].map((k) => makeVm(k, { antiAffinityGroup: "web" }));
    const r = placeBatch(nodes, vms, pack); // pack would otherwise stack them
    expect(new Set(r.placements.map((p) => p.node))).toEqual(new Set(["a", "b", "d"]));
    expect(r.unplaced).toHaveLength(1);
    expect(r.unplaced[0]!.message).toBe("4 nodes: anti-affinity (group web)");
  });

  it("puts affinity members on the node where the group already runs", () => {
    const nodes = [makeNode("a"), makeNode("b", { allocated: { vcpus: 8 }, groups: { db: 1 } }), makeNode("c")];
    const vms = ["d1", "d2", "d3"].map((k) => makeVm(k, { affinityGroup: "db" }));
    const r = placeBatch(nodes, vms, spread);
    expect(where(r)).toEqual({ d1: "b", d2: "b", d3: "b" });
  });

  it("keeps a new affinity group together and picks a node with room for all of it", () => {
    // Pack ranks "nearly-full" first for a lone 6-vCPU member (98% used after), but the second would not fit there.
    const nodes = [
      makeNode("nearly-full", { capacity: { vcpus: 100 }, allocated: { vcpus: 92 } }), // 8 free of 100
      makeNode("fits-both", { capacity: { vcpus: 12 } }),
    ];
    const vms = [cpuVm("g1", 6, { affinityGroup: "g" }), cpuVm("g2", 6, { affinityGroup: "g" }), cpuVm("solo", 6)];
    expect(where(placeBatch(nodes, [cpuVm("solo", 6)], pack))).toEqual({ solo: "nearly-full" });
    const r = placeBatch(nodes, vms, pack);
    expect(where(r)).toEqual({ g1: "fits-both", g2: "fits-both", solo: "nearly-full" });
  });

  it("falls back to placing affinity members one by one when no node fits the whole group", () => {
    const nodes = [makeNode("a", { capacity: { vcpus: 8 } })];
    const r = placeBatch(nodes, [cpuVm("g1", 6, { affinityGroup: "g" }), cpuVm("g2", 6, { affinityGroup: "g" })], spread);
    expect(r.placements).toHaveLength(1);
    expect(r.unplaced[0]!.message).toBe("1 node: insufficient cpu (need 6 vCPUs, largest free among them 2 vCPUs)");
  });

  it("explains affinity rejections with the pinned node", () => {
    const nodes = [makeNode("a", { groups: { g: 1 }, state: "CORDONED" }), makeNode("b")];
    const r = placeBatch(nodes, [makeVm("v", { affinityGroup: "g" })], spread);
    expect(r.unplaced[0]!.message).toBe("1 node: cordoned; 1 node: affinity (group g is on a)");
  });

  it("honours soft preferences and soft anti-affinity", () => {
    const nodes = [makeNode("a", { labels: { zone: "a" }, allocated: { vcpus: 8, memoryMib: 32768 } }), makeNode("b", { labels: { zone: "b" } })];
    const pref = makeVm("p", { preferences: [parseLabelExpression("zone=a")] });
    expect(where(placeBatch(nodes, [pref], spread))).toEqual({ p: "a" });

    const two = [makeNode("x"), makeNode("y")];
    const soft = ["s1", "s2", "s3"].map((k) => makeVm(k, { softAntiAffinityGroup: "web" }));
    const r = placeBatch(two, soft, pack); // pack alone would stack all three
    expect(r.placements).toHaveLength(3);
    expect(new Set(r.placements.map((p) => p.node)).size).toBe(2);
  });

  it("fills in the placement explanation", () => {
    const nodes = [makeNode("a"), makeNode("b", { state: "DOWN" }), makeNode("c", { labels: { zone: "a" } })];
    const vm = makeVm("v", { preferences: [parseLabelExpression("zone=a")] });
    const [p] = placeBatch(nodes, [vm], spread).placements;
    expect(p).toMatchObject({ key: "v", node: "c", feasibleNodes: 2, evaluatedNodes: 3 });
    expect(Object.keys(p!.scores).sort()).toEqual(["label-preference", "spread"]);
    expect(p!.scores["label-preference"]).toBe(100);
    // weighted mean: (1 × spread + 2 × 100) / 3
    expect(p!.score).toBeCloseTo((p!.scores.spread! + 200) / 3, 9);
    expect(p!.score).toBeGreaterThanOrEqual(0);
    expect(p!.score).toBeLessThanOrEqual(100);
  });

  it("does not mutate its inputs", () => {
    const nodes: NodeSnapshot[] = [makeNode("a", { groups: { g: 1 } }), makeNode("b")];
    const vms: VmRequest[] = [makeVm("1", { antiAffinityGroup: "w" }), makeVm("2", { affinityGroup: "g" }), makeVm("3")];
    const before = structuredClone({ nodes, vms });
    deepFreeze(nodes);
    deepFreeze(vms);
    const r = placeBatch(nodes, vms, spread);
    expect(r.placements).toHaveLength(3);
    expect({ nodes, vms }).toEqual(before);
  });

  it("limits candidates when asked, and still explains against every node", () => {
    const nodes = Array.from({ length: 100 }, (_, i) => makeNode(`n${i}`));
    const r = placeBatch(nodes, [makeVm("v")], { ...spread, maxCandidates: 5 });
    expect(r.placements[0]).toMatchObject({ feasibleNodes: 5, evaluatedNodes: 5 });
    expect(placeBatch(nodes, [makeVm("v")], { ...spread, maxCandidates: 5 })).toEqual(r);

    const big = makeVm("big", { resources: { vcpus: 64 } });
    const u = placeBatch(nodes, [big], { ...spread, maxCandidates: 5 }).unplaced[0]!;
    expect(u.reasons).toEqual([{ reason: "insufficient_cpu", nodes: 100, detail: "need 64 vCPUs, largest free among them 16 vCPUs" }]);

    // Full and partial scans agree when only one node is feasible.
    const one = nodes.map((n, i) => (i === 37 ? n : { ...n, state: "CORDONED" as const }));
    expect(where(placeBatch(one, [makeVm("v")], { ...spread, maxCandidates: 3 }))).toEqual({ v: "n37" });
  });

  it.each<[string, () => unknown, RegExp]>([
    ["duplicate VM keys", () => placeBatch([makeNode("a")], [makeVm("v"), makeVm("v")], spread), /duplicate VM key "v"/],
    ["duplicate node names", () => placeBatch([makeNode("a"), makeNode("a")], [], spread), /duplicate node name "a"/],
    ["unknown scorer", () => placeBatch([], [], { ...spread, scorers: [{ name: "x", weight: 1 }] }), /unknown scorer "x"/],
    ["bad maxCandidates", () => placeBatch([], [], { ...spread, maxCandidates: 0 }), /maxCandidates/],
    ["negative request", () => placeBatch([], [makeVm("v", { resources: { vcpus: -1 } })], spread), /vcpus must be/],
  ])("rejects %s", (_what, run, msg) => {
    expect(run).toThrow(msg);
  });
});
