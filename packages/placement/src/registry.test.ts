import { describe, expect, it } from "vitest";
import { cpuFilter } from "./filters/cpu.js";
import { FILTER_NAMES, FILTERS, getScorer, REASON_ORDER, REASONS, reasonTable, SCORER_NAMES } from "./registry.js";
import { makeState, makeVm, makeWorking } from "./testing.js";

describe("registry", () => {
  it("runs filters in the documented order", () => {
    expect(FILTER_NAMES).toEqual(["node-state", "cpu", "memory", "disk", "labels", "anti-affinity", "affinity"]);
    expect(SCORER_NAMES).toEqual(["spread", "pack", "label-preference", "soft-anti-affinity", "first-fit"]);
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
      "degraded",
      "insufficient_cpu",
      "insufficient_memory",
      "insufficient_disk",
      "label_constraint",
      "anti_affinity",
      "affinity",
    ]);
  });

  it("may not be declared by two filters", () => {
    expect(() => reasonTable([cpuFilter, { ...cpuFilter, name: "cpu-again" }])).toThrow('reason "insufficient_cpu" is declared by both the cpu and the cpu-again filter');
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
