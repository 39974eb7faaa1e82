import { describe, expect, it } from "vitest";
import { parseLabelExpression } from "../labels.js";
import { makeState, makeVm, makeWorking } from "../testing.js";
import { labelPreferenceScorer } from "./label-preference.js";

describe("label-preference scorer", () => {
  const node = makeWorking("n", { labels: { zone: "a", disk: "ssd" } });
  it.each<[string[], number]>([
    [[], 100],
    [["zone=a"], 100],
    [["zone=b"], 0],
    [["zone=a", "disk=hdd"], 50],
    [["zone=a", "disk=ssd", "gpu"], 200 / 3],
    [["gpu", "rack", "!zone", "zone in (a)"], 25],
  ])("preferences %j -> %d", (prefs, want) => {
    const vm = makeVm("v", { preferences: prefs.map(parseLabelExpression) });
    expect(labelPreferenceScorer.score(node, vm, makeState([node]))).toBeCloseTo(want, 9);
  });
});
