import { describe, expect, it } from "vitest";
import { makeState, makeVm, makeWorking } from "../testing.js";
import { antiAffinityFilter } from "./anti-affinity.js";

describe("anti-affinity filter", () => {
  it.each<{ what: string; group?: string; existing: Record<string, number>; batch: string[]; ok: boolean }>([
    { what: "no group", existing: { web: 3 }, batch: [], ok: true },
    { what: "empty group name means none", group: "", existing: { "": 1 }, batch: [], ok: true },
    { what: "group absent", group: "web", existing: { db: 2 }, batch: [], ok: true },
    { what: "member already there", group: "web", existing: { web: 1 }, batch: [], ok: false },
    { what: "zero count is absent", group: "web", existing: { web: 0 }, batch: [], ok: true },
    { what: "member placed earlier in the batch", group: "web", existing: {}, batch: ["web"], ok: false },
    { what: "other group placed in the batch", group: "web", existing: {}, batch: ["db"], ok: true },
  ])("$what", ({ group, existing, batch, ok }) => {
    const node = makeWorking("n", { groups: existing });
    for (const g of batch) node.take({ vcpus: 0, memoryMib: 0, diskGib: 0 }, [g]);
    const vm = makeVm("v", group === undefined ? {} : { antiAffinityGroup: group });
    expect(antiAffinityFilter.filter(node, vm, makeState([node]))?.reason ?? null).toBe(ok ? null : "anti_affinity");
  });
});
