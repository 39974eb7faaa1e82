import { describe, expect, it } from "vitest";
import { parseLabelExpression } from "./labels.js";
import { FILTER_NAMES, FILTERS, getScorer, REASON_ORDER, REASONS, SCORER_NAMES } from "./registry.js";
import { ScorerPlan } from "./scorer-plan.js";
import { makeState, makeVm, makeWorking } from "./testing.js";
import type { PlacementOptions, VmRequest } from "./types.js";

const plain = makeVm("plain");
const withPrefs = makeVm("prefs", { preferences: [parseLabelExpression("zone=a")] });
const withSoft = makeVm("soft", { softAntiAffinityGroup: "web" });
const withBoth = makeVm("both", { preferences: [parseLabelExpression("zone=a")], softAntiAffinityGroup: "web" });

const names = (plan: ScorerPlan, vm: VmRequest) => Object.fromEntries(plan.forVm(vm).scorers.map((w) => [w.scorer.name, w.weight]));

describe("registry", () => {
  it("runs filters in the documented order", () => {
    expect(FILTER_NAMES).toEqual(["node-state", "cpu", "memory", "disk", "labels", "anti-affinity", "affinity"]);
    expect(SCORER_NAMES).toEqual(["spread", "pack", "label-preference", "soft-anti-affinity", "first-fit"]);
  });

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
});

describe("reasons", () => {
  it("are derived from the filters: each filter's own, in filter order", () => {
    expect(REASON_ORDER).toEqual(FILTERS.flatMap((f) => Object.keys(f.reasons)));
    expect(REASON_ORDER).toEqual([
      "node_not_ready",
      "cordoned",
      "draining",
      "down",
      "insufficient_cpu",
      "insufficient_memory",
      "insufficient_disk",
      "label_constraint",
      "anti_affinity",
      "affinity",
    ]);
  });

  it("each have words, and no two filters share one", () => {
    expect(new Set(REASON_ORDER).size).toBe(REASON_ORDER.length);
    for (const r of REASON_ORDER) expect(REASONS[r].label).toMatch(/^[a-z][a-z -]+$/);
  });
});

describe("scorer capabilities", () => {
  it.each(SCORER_NAMES)("%s: applies() false means the same score on every node", (name) => {
    const s = getScorer(name);
    const plainVm = makeVm("v");
    if (s.applies === undefined || s.applies(plainVm)) return;
    const nodes = [makeWorking("a"), makeWorking("b", { labels: { zone: "a" }, groups: { web: 2 }, allocated: { vcpus: 8 } }, 1)];
    const state = makeState(nodes);
    expect(new Set(nodes.map((n) => s.score(n, plainVm, state))).size).toBe(1);
  });

  it("scorers with a default weight are the ones a VM's preferences or soft group add", () => {
    expect(SCORER_NAMES.filter((n) => getScorer(n).defaultWeight !== undefined)).toEqual(["label-preference", "soft-anti-affinity"]);
  });
});
