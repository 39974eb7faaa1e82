import { describe, expect, it } from "vitest";
import { applicableFilters, firstRejection, largestAmong, rejection, type Filter } from "./filter.js";
import type { RejectReason } from "./registry.js";
import { makeState, makeVm, makeWorking } from "./testing.js";

const A = rejection("a");
const B = rejection("b");

describe("Filter typing", () => {
  // These fail the type check (tests are type-checked) if the compiler stops catching them.
  it("a filter must word exactly the reasons it returns", () => {
    // @ts-expect-error: returns "b", which it does not declare
    const undeclared: Filter<"a"> = { name: "x", reasons: { a: { label: "a" } }, filter: () => B };
    // @ts-expect-error: declares "b" in its type but gives it no words
    const unworded: Filter<"a" | "b"> = { name: "x", reasons: { a: { label: "a" } }, filter: () => A };
    // @ts-expect-error: words a reason outside its type
    const extra: Filter<"a"> = { name: "x", reasons: { a: { label: "a" }, b: { label: "b" } }, filter: () => A };
    expect([undeclared, unworded, extra].map((f) => f.name)).toEqual(["x", "x", "x"]);
  });

  it("RejectReason is exactly the registered filters' reasons", () => {
    // @ts-expect-error: no registered filter declares it
    const unknown: RejectReason = "gpu_missing";
    const known: RejectReason = "insufficient_memory";
    expect([unknown, known]).toHaveLength(2);
  });
});

describe("filter helpers", () => {
  const rejectsAll: Filter<"a"> = { name: "all", reasons: { a: { label: "a" } }, filter: () => A };
  const rejectsNone: Filter<"b"> = { name: "none", reasons: { b: { label: "b" } }, filter: () => null, applies: (vm) => vm.preferences.length > 0 };
  const node = makeWorking("n");
  const vm = makeVm("v");

  it("firstRejection takes the first filter that rejects, in order", () => {
    expect(firstRejection([rejectsNone, rejectsAll], node, vm, makeState([node]))).toBe(A);
    expect(firstRejection([rejectsNone], node, vm, makeState([node]))).toBeNull();
  });

  it("applicableFilters drops the filters whose applies() is false, keeping order", () => {
    expect(applicableFilters([rejectsNone, rejectsAll], vm)).toEqual([rejectsAll]);
  });

  it("rejection constants are frozen", () => {
    expect(Object.isFrozen(A)).toBe(true);
  });

  it("largestAmong is the largest amount, 0 for no nodes", () => {
    const nodes = [makeWorking("a", { allocated: { vcpus: 10 } }), makeWorking("b", { allocated: { vcpus: 4 } }, 1)];
    expect(largestAmong(nodes, (n) => n.freeCpu())).toBe(12);
    expect(largestAmong([], (n) => n.freeCpu())).toBe(0);
  });
});
