import { describe, expect, it } from "vitest";
import { parseLabelExpression } from "./labels.js";
import { ScorerPlan, scorerPlan } from "./scorer-plan.js";
import { firstFitScorer } from "./scorers/first-fit.js";
import { makeState, makeVm, makeWorking } from "./testing.js";
import type { PlacementOptions, VmRequest } from "./types.js";

const plain = makeVm("plain");
const withPrefs = makeVm("prefs", { preferences: [parseLabelExpression("zone=a")] });
const withSoft = makeVm("soft", { softAntiAffinityGroup: "web" });
const withBoth = makeVm("both", { preferences: [parseLabelExpression("zone=a")], softAntiAffinityGroup: "web" });

const names = (plan: ScorerPlan, vm: VmRequest) => Object.fromEntries(plan.forVm(vm).scorers.map((w) => [w.scorer.name, w.weight]));

describe("ScorerPlan", () => {
  it.each<{ what: string; options: PlacementOptions; vm: VmRequest; want: Record<string, number> }>([
    { what: "spread alone", options: { strategy: "spread", seed: "" }, vm: plain, want: { spread: 1 } },
    { what: "pack alone", options: { strategy: "pack", seed: "" }, vm: plain, want: { pack: 1 } },
    { what: "preferences add label-preference", options: { strategy: "spread", seed: "" }, vm: withPrefs, want: { spread: 1, "label-preference": 2 } },
    { what: "soft group adds soft-anti-affinity", options: { strategy: "pack", seed: "" }, vm: withSoft, want: { pack: 1, "soft-anti-affinity": 2 } },
    {
      what: "both",
      options: { strategy: "spread", seed: "" },
      vm: withBoth,
      want: { spread: 1, "label-preference": 2, "soft-anti-affinity": 2 },
    },
    {
      what: "explicit weight overrides the automatic one",
      options: { strategy: "spread", seed: "", scorers: [{ name: "label-preference", weight: 5 }] },
      vm: withPrefs,
      want: { spread: 1, "label-preference": 5 },
    },
    {
      what: "explicit scorer applies to every VM",
      options: { strategy: "spread", seed: "", scorers: [{ name: "soft-anti-affinity", weight: 3 }] },
      vm: plain,
      want: { spread: 1, "soft-anti-affinity": 3 },
    },
    {
      what: "weight 0 turns a scorer off",
      options: { strategy: "spread", seed: "", scorers: [{ name: "label-preference", weight: 0 }] },
      vm: withPrefs,
      want: { spread: 1 },
    },
    {
      what: "the other strategy can be mixed in",
      options: { strategy: "spread", seed: "", scorers: [{ name: "pack", weight: 0.5 }, { name: "spread", weight: 2 }] },
      vm: plain,
      want: { spread: 2, pack: 0.5 },
    },
  ])("$what", ({ options, vm, want }) => {
    expect(names(new ScorerPlan(options), vm)).toEqual(want);
  });

  it.each<[PlacementOptions, RegExp]>([
    [{ strategy: "spread", seed: "", scorers: [{ name: "nope", weight: 1 }] }, /unknown scorer "nope"/],
    [{ strategy: "spread", seed: "", scorers: [{ name: "constructor", weight: 1 }] }, /unknown scorer "constructor"/],
    [{ strategy: "spread", seed: "", scorers: [{ name: "pack", weight: -1 }] }, /weight must be/],
    [{ strategy: "spread", seed: "", scorers: [{ name: "pack", weight: Number.NaN }] }, /weight must be/],
    [{ strategy: "random" as "spread", seed: "" }, /unknown placement strategy "random"/],
  ])("rejects %j", (options, msg) => {
    expect(() => new ScorerPlan(options)).toThrow(msg);
  });

  it.each<{ what: string; options: PlacementOptions; vm: VmRequest; want: Record<string, number> }>([
    { what: "first fit replaces the strategy", options: { strategy: "pack", seed: "" }, vm: plain, want: { "first-fit": 1 } },
    {
      what: "even when the caller names the strategy; other scorers stay",
      options: { strategy: "pack", seed: "", scorers: [{ name: "pack", weight: 3 }, { name: "label-preference", weight: 1 }] },
      vm: withSoft,
      want: { "label-preference": 1, "first-fit": 1, "soft-anti-affinity": 2 },
    },
  ])("instead: $what", ({ options, vm, want }) => {
    expect(names(new ScorerPlan(options, firstFitScorer), vm)).toEqual(want);
  });

  it("is built once per scorers array, strategy and replacement", () => {
    const scorers = [{ name: "spread", weight: 1 }];
    const options: PlacementOptions = { strategy: "pack", seed: "a", scorers };
    expect(scorerPlan({ ...options, seed: "b" })).toBe(scorerPlan(options));
    expect(scorerPlan(options, firstFitScorer)).toBe(scorerPlan(options, firstFitScorer));
    expect(scorerPlan(options, firstFitScorer)).not.toBe(scorerPlan(options));
    expect(scorerPlan({ ...options, scorers: [...scorers] })).not.toBe(scorerPlan(options));
  });
});

describe("Scoring", () => {
  const node = makeWorking("n", { labels: { zone: "a" }, allocated: { vcpus: 8, memoryMib: 16384 } });
  const state = makeState([node]);

  it("is the weighted mean of its scorers, with each scorer's own score in the breakdown", () => {
    const scoring = new ScorerPlan({ strategy: "spread", seed: "" }).forVm(withPrefs);
    const { spread, "label-preference": pref } = scoring.breakdown(node, withPrefs, state);
    expect(pref).toBe(100);
    expect(scoring.score(node, withPrefs, state)).toBeCloseTo((1 * spread! + 2 * pref!) / 3, 9);
  });

  it("scores 0 when every weight is 0", () => {
    const scoring = new ScorerPlan({ strategy: "spread", seed: "", scorers: [{ name: "spread", weight: 0 }] }).forVm(plain);
    expect(scoring.scorers).toEqual([]);
    expect(scoring.score(node, plain, state)).toBe(0);
  });
});
