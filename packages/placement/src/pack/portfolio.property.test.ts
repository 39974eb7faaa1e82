import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { placeBatch } from "../engine.js";
import { makeNode, makeVm } from "../testing.js";
import type { NodeSnapshot, VmRequest } from "../types.js";

const CPU = 64;
const MEM = 256;

/** Reference first-fit-decreasing on identical empty hosts: dominant share, ties by key, hosts in order. */
function ffdHosts(vms: VmRequest[], hosts: number): number {
  const order = [...vms].sort((a, b) => {
    const d = Math.max(b.resources.vcpus / CPU, b.resources.memoryMib / MEM) - Math.max(a.resources.vcpus / CPU, a.resources.memoryMib / MEM);
    return d !== 0 ? d : a.key < b.key ? -1 : 1;
  });
  const used: { cpu: number; mem: number }[] = [];
  for (const vm of order) {
    let h = used.findIndex((u) => u.cpu + vm.resources.vcpus <= CPU && u.mem + vm.resources.memoryMib <= MEM);
    if (h < 0 && used.length < hosts) {
      used.push({ cpu: 0, mem: 0 });
      h = used.length - 1;
    }
    if (h >= 0) {
      used[h]!.cpu += vm.resources.vcpus;
      used[h]!.mem += vm.resources.memoryMib;
    }
  }
  return used.length;
}

// Pack keeps the better of best fit and first-fit-decreasing, so it never opens more hosts than FFD.
describe("pack strategy versus first-fit-decreasing", () => {
  it("never uses more empty hosts than FFD", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ vcpus: fc.integer({ min: 1, max: 32 }), memoryMib: fc.integer({ min: 1, max: 128 }) }), { minLength: 2, maxLength: 40 }),
        (sizes) => {
          const vms = sizes.map((r, i) => makeVm(`v${String(i).padStart(3, "0")}`, { resources: { ...r, diskGib: 0 } }));
          const nodes: NodeSnapshot[] = Array.from({ length: vms.length }, (_, i) =>
            makeNode(`h${String(i).padStart(3, "0")}`, { capacity: { vcpus: CPU, memoryMib: MEM, diskGib: 10 } }),
          );
          const result = placeBatch(nodes, vms, { strategy: "pack", seed: "s" });
          expect(result.unplaced).toEqual([]);
          expect(new Set(result.placements.map((p) => p.node)).size).toBeLessThanOrEqual(ffdHosts(vms, nodes.length));
        },
      ),
      { numRuns: 300 },
    );
  });
});
