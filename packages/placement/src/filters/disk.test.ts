import { describe, expect, it } from "vitest";
import { makeState, makeVm, makeWorking } from "../testing.js";
import { diskFilter } from "./disk.js";

// Node: capacity 100 of every resource, 10 reserved, ratio 1 unless given.
describe("disk filter", () => {
  it.each([
    { what: "fits with room", need: 10, allocated: 0, fits: true },
    { what: "exact fit", need: 40, allocated: 50, fits: true },
    { what: "one over", need: 41, allocated: 50, fits: false },
    { what: "reserved counts", need: 95, allocated: 0, fits: false },
    { what: "ratio adds room", need: 140, allocated: 0, ratio: 1.5, fits: true },
    { what: "ratio product is floored", need: 131, allocated: 0, ratio: 1.405, fits: false },
    { what: "zero need on an over-committed node", need: 0, allocated: 500, fits: true },
    { what: "need on an over-committed node", need: 1, allocated: 500, fits: false },
  ])("$what", ({ need, allocated, ratio = 1, fits }) => {
    const node = makeWorking("n", {
      capacity: { vcpus: 100, memoryMib: 100, diskGib: 100 },
      reserved: { diskGib: 10 },
      allocated: { diskGib: allocated },
      ratios: { cpu: ratio, memory: ratio, disk: ratio },
    });
    const vm = makeVm("v", { resources: { vcpus: 0, memoryMib: 0, diskGib: 0, diskGib: need } });
    expect(diskFilter.filter(node, vm, makeState([node]))?.reason ?? null).toBe(fits ? null : "insufficient_disk");
  });

  it("ignores the other resources", () => {
    const node = makeWorking("n", { capacity: { vcpus: 1, memoryMib: 1, diskGib: 1, diskGib: 100 } });
    const vm = makeVm("v", { resources: { vcpus: 50, memoryMib: 50, diskGib: 50 } });
    expect(diskFilter.filter(node, vm, makeState([node]))).toBeNull();
  });

  it("sees what the batch already took", () => {
    const node = makeWorking("n", { capacity: { vcpus: 100, memoryMib: 100, diskGib: 100 } });
    const vm = makeVm("v", { resources: { vcpus: 0, memoryMib: 0, diskGib: 0, diskGib: 60 } });
    expect(diskFilter.filter(node, vm, makeState([node]))).toBeNull();
    node.take(vm.resources, []);
    expect(diskFilter.filter(node, vm, makeState([node]))?.reason).toBe("insufficient_disk");
  });
});
