import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mayReject } from "./decide.js";
import { cpuFilter } from "./filters/cpu.js";
import { diskFilter } from "./filters/disk.js";
import { memoryFilter } from "./filters/memory.js";
import { nodeStateFilter } from "./filters/node-state.js";
import { FILTERS } from "./registry.js";
import { makeState, makeVm, makeWorking } from "./testing.js";

const HEAD = [nodeStateFilter, cpuFilter, memoryFilter, diskFilter];
const amount = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 200 }), fc.double({ min: 0, max: 200, noNaN: true }));

describe("engine fast path", () => {
  it("runs the filters it inlines first, in registry order", () => {
    expect(FILTERS.slice(0, HEAD.length)).toEqual(HEAD);
  });

  it("mayReject is exactly 'node-state, cpu, memory or disk rejects'", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("READY", "CORDONED", "DRAINING", "DOWN", "UNKNOWN"),
        fc.tuple(amount, amount, amount),
        fc.tuple(amount, amount, amount),
        fc.tuple(amount, amount, amount),
        fc.tuple(fc.constantFrom(0.5, 1, 1.5, 4), fc.constantFrom(1, 1.2)),
        (state, cap, used, need, ratios) => {
          const node = makeWorking("n", {
            state: state as "READY",
            capacity: { vcpus: cap[0], memoryMib: cap[1], diskGib: cap[2] },
            allocated: { vcpus: used[0], memoryMib: used[1], diskGib: used[2] },
            ratios: { cpu: ratios[0], memory: ratios[1] },
          });
          const vm = makeVm("v", { resources: { vcpus: need[0], memoryMib: need[1], diskGib: need[2] } });
          const generic = HEAD.some((f) => f.filter(node, vm, makeState([node])) !== null);
          expect(mayReject(node, need[0], need[1], need[2])).toBe(generic);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("filters that do not apply to a VM pass every node", () => {
    const vm = makeVm("v", { resources: { vcpus: 0, memoryMib: 0, diskGib: 0 } });
    const node = makeWorking("n", { allocated: { vcpus: 100, memoryMib: 1e9, diskGib: 1e9 }, groups: { g: 3 } });
    for (const f of FILTERS) if (f.applies && !f.applies(vm)) expect(f.filter(node, vm, makeState([node]))).toBeNull();
  });
});
