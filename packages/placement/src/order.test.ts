import { describe, expect, it } from "vitest";
import { placementOrder } from "./order.js";
import { makeVm, makeWorking } from "./testing.js";
import type { VmRequest } from "./types.js";

// Cluster: two READY nodes of 16 vCPU / 65536 MiB / 1000 GiB (totals 32 / 131072 / 2000) and a DOWN one that does not count.
const nodes = [makeWorking("a", {}, 0), makeWorking("b", {}, 1), makeWorking("c", { state: "DOWN", capacity: { vcpus: 1000 } }, 2)];
const keys = (vms: VmRequest[]) => placementOrder(vms, nodes).map((u) => u.map((v) => v.key));

describe("placementOrder", () => {
  it.each<{ what: string; vms: VmRequest[]; want: string[][] }>([
    {
      what: "largest dominant share first",
      vms: [
        makeVm("small", { resources: { vcpus: 1, memoryMib: 1024, diskGib: 0 } }),
        makeVm("cpu-heavy", { resources: { vcpus: 16, memoryMib: 1024, diskGib: 0 } }), // 16/32 = .5
        makeVm("mem-heavy", { resources: { vcpus: 1, memoryMib: 98304, diskGib: 0 } }), // .75
      ],
      want: [["mem-heavy"], ["cpu-heavy"], ["small"]],
    },
    {
      what: "disk can dominate",
      vms: [
        makeVm("x", { resources: { vcpus: 8, memoryMib: 0, diskGib: 0 } }), // .25
        makeVm("y", { resources: { vcpus: 1, memoryMib: 0, diskGib: 1000 } }), // .5
      ],
      want: [["y"], ["x"]],
    },
    {
      what: "equal sizes order by key, not input order",
      vms: [makeVm("c"), makeVm("a"), makeVm("b")],
      want: [["a"], ["b"], ["c"]],
    },
    {
      what: "affinity group moves as one unit sized by its sum",
      vms: [
        makeVm("big", { resources: { vcpus: 10, memoryMib: 0, diskGib: 0 } }), // .3125
        makeVm("g1", { resources: { vcpus: 4, memoryMib: 0, diskGib: 0 }, affinityGroup: "g" }),
        makeVm("mid", { resources: { vcpus: 6, memoryMib: 0, diskGib: 0 } }), // .1875
        makeVm("g2", { resources: { vcpus: 8, memoryMib: 0, diskGib: 0 }, affinityGroup: "g" }), // group 12/32 = .375
      ],
      want: [["g2", "g1"], ["big"], ["mid"]],
    },
  ])("$what", ({ vms, want }) => {
    expect(keys(vms)).toEqual(want);
  });

  it("does not depend on input order", () => {
    const vms = [
      makeVm("a", { affinityGroup: "g" }),
      makeVm("b"),
      makeVm("g"),
      makeVm("c", { affinityGroup: "g" }),
      makeVm("d", { resources: { vcpus: 4 } }),
    ];
    expect(keys([...vms].reverse())).toEqual(keys(vms));
  });
});
