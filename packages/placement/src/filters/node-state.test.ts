import { describe, expect, it } from "vitest";
import { makeState, makeVm, makeWorking } from "../testing.js";
import type { NodeState, RejectReason } from "../types.js";
import { nodeStateFilter } from "./node-state.js";

describe("node-state filter", () => {
  it.each<[string, RejectReason | null]>([
    ["READY", null],
    ["CORDONED", "cordoned"],
    ["DRAINING", "draining"],
    ["DOWN", "down"],
    ["DEGRADED", "degraded"],
    ["UNSPECIFIED", "node_not_ready"],
  ])("%s -> %s", (state, want) => {
    const node = makeWorking("n", { state: state as NodeState });
    expect(nodeStateFilter.filter(node, makeVm("v"), makeState([node]))?.reason ?? null).toBe(want);
  });
});
