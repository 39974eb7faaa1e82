import { describe, expect, it } from "vitest";
import { makeState, makeVm, makeWorking } from "../testing.js";
import { softAntiAffinityScorer } from "./soft-anti-affinity.js";

describe("soft-anti-affinity scorer", () => {
  it.each<{ what: string; group?: string; existing: number; batch: number; want: number }>([
    { what: "no group", existing: 5, batch: 0, want: 100 },
    { what: "empty group name means none", group: "", existing: 5, batch: 0, want: 100 },
    { what: "no member on the node", group: "web", existing: 0, batch: 0, want: 100 },
    { what: "one member", group: "web", existing: 1, batch: 0, want: 50 },
    { what: "two members", group: "web", existing: 2, batch: 0, want: 100 / 3 },
    { what: "batch members count", group: "web", existing: 1, batch: 2, want: 25 },
  ])("$what", ({ group, existing, batch, want }) => {
    const node = makeWorking("n", { groups: { web: existing, "": existing } });
    for (let i = 0; i < batch; i++) node.take({ vcpus: 0, memoryMib: 0, diskGib: 0 }, ["web"]);
    const vm = makeVm("v", group === undefined ? {} : { softAntiAffinityGroup: group });
    expect(softAntiAffinityScorer.score(node, vm, makeState([node]))).toBeCloseTo(want, 9);
  });
});
