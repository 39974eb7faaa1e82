import { describe, expect, it } from "vitest";
import { makeState, makeVm, makeWorking } from "../testing.js";
import { packScorer } from "./pack.js";

// Node: 100 vCPUs, 1000 MiB allocatable. Score = 100 × mean used fraction of CPU and memory after placement.
describe("pack scorer", () => {
  it.each([
    { what: "empty node, small VM", used: [0, 0], need: [10, 100], want: 10 },
    { what: "half", used: [40, 400], need: [10, 100], want: 50 },
    { what: "mixed", used: [40, 0], need: [10, 100], want: 30 },
    { what: "full after placement", used: [90, 900], need: [10, 100], want: 100 },
    { what: "over-committed clamps to 100", used: [200, 2000], need: [1, 1], want: 100 },
    { what: "nothing requested on an empty node", used: [0, 0], need: [0, 0], want: 0 },
  ])("$what", ({ used, need, want }) => {
    const node = makeWorking("n", {
      capacity: { vcpus: 100, memoryMib: 1000 },
      allocated: { vcpus: used[0], memoryMib: used[1] },
    });
    const vm = makeVm("v", { resources: { vcpus: need[0], memoryMib: need[1], diskGib: 0 } });
    expect(packScorer.score(node, vm, makeState([node]))).toBeCloseTo(want, 9);
  });

  it("ranks the fuller node higher", () => {
    const empty = makeWorking("a");
    const busy = makeWorking("b", { allocated: { vcpus: 8, memoryMib: 32768 } });
    const vm = makeVm("v");
    expect(packScorer.score(busy, vm, makeState())).toBeGreaterThan(packScorer.score(empty, vm, makeState()));
  });
});
