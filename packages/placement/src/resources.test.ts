import { describe, expect, it } from "vitest";
import { allocatable, free } from "./resources.js";
import { makeNode } from "./testing.js";

describe("allocatable", () => {
  it.each([
    { what: "ratio 1, nothing reserved", cap: [16, 65536, 1000], ratios: [1, 1, 1], res: [0, 0, 0], want: [16, 65536, 1000] },
    { what: "overcommit then reserve", cap: [16, 65536, 1000], ratios: [4, 1.5, 1], res: [2, 4096, 50], want: [62, 94208, 950] },
    { what: "floor before reserve", cap: [3, 1000, 7], ratios: [1.5, 1.1, 1.5], res: [1, 0, 0], want: [3, 1100, 10] },
    // IEEE: 100 * 0.57 = 56.99999999999999, so floor gives 56 (the store's float8 SQL agrees).
    { what: "IEEE rounding of the product", cap: [100, 100, 100], ratios: [0.57, 1, 1], res: [0, 0, 0], want: [56, 100, 100] },
    { what: "reserved above capacity clamps to 0", cap: [4, 1024, 10], ratios: [1, 1, 1], res: [8, 2048, 20], want: [0, 0, 0] },
    { what: "undercommit", cap: [10, 1000, 100], ratios: [0.5, 0.9, 0.75], res: [0, 100, 0], want: [5, 800, 75] },
  ])("$what", ({ cap, ratios, res, want }) => {
    const node = makeNode("n", {
      capacity: { vcpus: cap[0], memoryMib: cap[1], diskGib: cap[2] },
      ratios: { cpu: ratios[0], memory: ratios[1], disk: ratios[2] },
      reserved: { vcpus: res[0], memoryMib: res[1], diskGib: res[2] },
    });
    expect(allocatable(node)).toEqual({ vcpus: want[0], memoryMib: want[1], diskGib: want[2] });
  });
});

describe("free", () => {
  it.each([
    { what: "empty node", alloc: [0, 0, 0], want: [16, 65536, 1000] },
    { what: "partly used", alloc: [10, 60000, 1000], want: [6, 5536, 0] },
    { what: "over-committed clamps to 0", alloc: [20, 70000, 1200], want: [0, 0, 0] },
  ])("$what", ({ alloc, want }) => {
    const node = makeNode("n", { allocated: { vcpus: alloc[0], memoryMib: alloc[1], diskGib: alloc[2] } });
    expect(free(node)).toEqual({ vcpus: want[0], memoryMib: want[1], diskGib: want[2] });
  });

  it("subtracts reserved and applies ratios", () => {
    const node = makeNode("n", {
      ratios: { cpu: 2 },
      reserved: { vcpus: 2, memoryMib: 1024 },
      allocated: { vcpus: 10, memoryMib: 1024 },
    });
    expect(free(node)).toEqual({ vcpus: 20, memoryMib: 63488, diskGib: 1000 });
  });
});
