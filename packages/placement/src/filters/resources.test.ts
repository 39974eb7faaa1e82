import { describe, expect, it } from "vitest";
import type { Filter } from "../filter.js";
import { makeState, makeVm, makeWorking } from "../testing.js";
import type { Resources } from "../types.js";
import { cpuFilter } from "./cpu.js";
import { diskFilter } from "./disk.js";
import { memoryFilter } from "./memory.js";

type Resource = keyof Resources;

/** `amount` of one resource, none of the others. */
const only = (resource: Resource, amount: number): Resources => ({ vcpus: 0, memoryMib: 0, diskGib: 0, [resource]: amount });

const FILTERS: { filter: Filter; resource: Resource; reason: string }[] = [
  { filter: cpuFilter, resource: "vcpus", reason: "insufficient_cpu" },
  { filter: memoryFilter, resource: "memoryMib", reason: "insufficient_memory" },
  { filter: diskFilter, resource: "diskGib", reason: "insufficient_disk" },
];

const CASES: { what: string; need: number; allocated: number; ratio?: number; fits: boolean }[] = [
  { what: "fits with room", need: 10, allocated: 0, fits: true },
  { what: "exact fit", need: 40, allocated: 50, fits: true },
  { what: "one over", need: 41, allocated: 50, fits: false },
  { what: "reserved counts", need: 95, allocated: 0, fits: false },
  { what: "ratio adds room", need: 140, allocated: 0, ratio: 1.5, fits: true },
  { what: "ratio product is floored", need: 131, allocated: 0, ratio: 1.405, fits: false },
  { what: "zero need on an over-committed node", need: 0, allocated: 500, fits: true },
  { what: "need on an over-committed node", need: 1, allocated: 500, fits: false },
];

// Node: capacity 100 of every resource, 10 of the filter's resource reserved, ratio 1 unless given.
describe.each(FILTERS)("$filter.name filter", ({ filter, resource, reason }) => {
  it.each(CASES)("$what", ({ need, allocated, ratio = 1, fits }) => {
    const node = makeWorking("n", {
      capacity: { vcpus: 100, memoryMib: 100, diskGib: 100 },
      reserved: only(resource, 10),
      allocated: only(resource, allocated),
      ratios: { cpu: ratio, memory: ratio, disk: ratio },
    });
    const vm = makeVm("v", { resources: only(resource, need) });
    expect(filter.filter(node, vm, makeState([node]))?.reason ?? null).toBe(fits ? null : reason);
  });

  it("ignores the other resources", () => {
    const node = makeWorking("n", { capacity: { vcpus: 1, memoryMib: 1, diskGib: 1, [resource]: 100 } });
    const vm = makeVm("v", { resources: { vcpus: 50, memoryMib: 50, diskGib: 50 } });
    expect(filter.filter(node, vm, makeState([node]))).toBeNull();
  });

  it("sees what the batch already took", () => {
    const node = makeWorking("n", { capacity: { vcpus: 100, memoryMib: 100, diskGib: 100 } });
    const vm = makeVm("v", { resources: only(resource, 60) });
    expect(filter.filter(node, vm, makeState([node]))).toBeNull();
    node.take(vm.resources, []);
    expect(filter.filter(node, vm, makeState([node]))?.reason).toBe(reason);
  });

  it("applies only to a VM that requests the resource", () => {
    expect(filter.applies?.(makeVm("v", { resources: only(resource, 0) }))).toBe(false);
    expect(filter.applies?.(makeVm("v", { resources: only(resource, 1) }))).toBe(true);
  });

  it("declares its reason", () => {
    expect(Object.keys(filter.reasons)).toEqual([reason]);
  });
});
