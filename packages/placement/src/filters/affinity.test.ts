import { describe, expect, it } from "vitest";
import { makeState, makeVm, makeWorking } from "../testing.js";
import { affinityFilter } from "./affinity.js";

describe("affinity filter", () => {
  const a = makeWorking("a", {}, 0);
  const b = makeWorking("b", {}, 1);
  it.each<{ what: string; group?: string; anchors: Record<string, typeof a>; node: typeof a; ok: boolean }>([
    { what: "no group", anchors: { db: a }, node: b, ok: true },
    { what: "new group may go anywhere", group: "db", anchors: {}, node: b, ok: true },
    { what: "anchor node qualifies", group: "db", anchors: { db: a }, node: a, ok: true },
    { what: "other nodes do not", group: "db", anchors: { db: a }, node: b, ok: false },
    { what: "another group's anchor is irrelevant", group: "db", anchors: { web: a }, node: b, ok: true },
  ])("$what", ({ group, anchors, node, ok }) => {
    const vm = makeVm("v", group === undefined ? {} : { affinityGroup: group });
    expect(affinityFilter.filter(node, vm, makeState([a, b], anchors))?.reason ?? null).toBe(ok ? null : "affinity");
  });
});
