import { describe, expect, it } from "vitest";
import { makeState, makeVm, makeWorking } from "../testing.js";
import { spreadScorer } from "./spread.js";

// Node: 100 vCPUs, 1000 MiB allocatable. Score = 100 × (mean free fraction − 0.25 × |cpu − mem|) after placement.
describe("spread scorer", () => {
  it.each([
    { what: "empty node, small VM", used: [0, 0], need: [10, 100], want: 90 },
    { what: "balanced half", used: [40, 400], need: [10, 100], want: 50 },
    { what: "imbalance costs", used: [40, 0], need: [10, 100], want: 60 }, // cpu .5, mem .9: .7 − .1
    { what: "worst imbalance", used: [100, 0], need: [0, 0], want: 25 }, // .5 − .25
    { what: "full after placement", used: [90, 900], need: [10, 100], want: 0 },
    { what: "over-committed clamps to 0", used: [200, 2000], need: [1, 1], want: 0 },
    { what: "disk does not count", used: [0, 0], need: [0, 0], want: 100 },
  ])("$what", ({ used, need, want }) => {
    const node = makeWorking("n", {
      capacity: { vcpus: 100, memoryMib: 1000, diskGib: 10 },
      allocated: { vcpus: used[0], memoryMib: used[1], diskGib: 10 },
    });
    const vm = makeVm("v", { resources: { vcpus: need[0], memoryMib: need[1], diskGib: 0 } });
    expect(spreadScorer.score(node, vm, makeState([node]))).toBeCloseTo(want, 9);
  });

  it("a node without memory counts its memory as full", () => {
    const node = makeWorking("n", { capacity: { vcpus: 100, memoryMib: 0 } });
    const vm = makeVm("v", { resources: { vcpus: 0, memoryMib: 0 } });
    expect(spreadScorer.score(node, vm, makeState([node]))).toBeCloseTo(25, 9);
  });

  it("ranks the emptier node higher", () => {
    const empty = makeWorking("a");
    const busy = makeWorking("b", { allocated: { vcpus: 8, memoryMib: 32768 } });
    const vm = makeVm("v");
    expect(spreadScorer.score(empty, vm, makeState())).toBeGreaterThan(spreadScorer.score(busy, vm, makeState()));
  });
});
