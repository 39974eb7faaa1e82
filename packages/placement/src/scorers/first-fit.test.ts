import { describe, expect, it } from "vitest";
import { makeNode, makeState, makeVm } from "../testing.js";
import { WorkingNode } from "../working.js";
import { firstFitScorer } from "./first-fit.js";

describe("first-fit scorer", () => {
  it.each([
    { index: 0, want: 100 },
    { index: 1, want: 50 },
    { index: 3, want: 25 },
    { index: 99, want: 1 },
  ])("node at index $index scores $want", ({ index, want }) => {
    const node = new WorkingNode(index, makeNode(`n${index}`));
    expect(firstFitScorer.score(node, makeVm("v"), makeState([node]))).toBeCloseTo(want, 9);
  });

  it("ignores how full the node is: only its place in the order counts", () => {
    const full = new WorkingNode(0, makeNode("a", { allocated: { vcpus: 15 } }));
    const empty = new WorkingNode(1, makeNode("b"));
    expect(firstFitScorer.score(full, makeVm("v"), makeState())).toBeGreaterThan(firstFitScorer.score(empty, makeVm("v"), makeState()));
  });
});
