import { describe, expect, it } from "vitest";
import { parseLabelExpression } from "../labels.js";
import { makeState, makeVm, makeWorking } from "../testing.js";
import { labelFilter } from "./labels.js";

describe("labels filter", () => {
  const labels = { zone: "a", disk: "ssd", gpu: "nvidia" };
  it.each<[string[], boolean]>([
    [[], true],
    [["zone=a"], true],
    [["zone=b"], false],
    [["zone=a", "disk=ssd", "gpu"], true],
    [["zone=a", "disk=hdd"], false], // all must match
    [["zone in (b,c)", "gpu"], false],
    [["!tpu", "zone notin (b)"], true],
    [["rack"], false],
  ])("constraints %j -> %s", (constraints, ok) => {
    const node = makeWorking("n", { labels });
    const vm = makeVm("v", { constraints: constraints.map(parseLabelExpression) });
    expect(labelFilter.filter(node, vm, makeState([node]))?.reason ?? null).toBe(ok ? null : "label_constraint");
  });
});
