import { describe, expect, it } from "vitest";
import { formatReasons, reasonDetail } from "./explain.js";
import { parseLabelExpression } from "./labels.js";
import { makeVm } from "./testing.js";
import type { ReasonCount, RejectReason } from "./types.js";

describe("formatReasons", () => {
  it.each<[ReasonCount[], string]>([
    [[], ""],
    [[{ reason: "cordoned", nodes: 1, detail: "" }], "1 node: cordoned"],
    [
      [
        { reason: "insufficient_memory", nodes: 10, detail: "need 8192 MiB, largest free 4096 MiB" },
        { reason: "cordoned", nodes: 2, detail: "" },
      ],
      "10 nodes: insufficient memory (need 8192 MiB, largest free 4096 MiB); 2 nodes: cordoned",
    ],
    [
      [
        { reason: "anti_affinity", nodes: 3, detail: "group web" },
        { reason: "node_not_ready", nodes: 1, detail: "" },
        { reason: "down", nodes: 1, detail: "" },
      ],
      "3 nodes: anti-affinity (group web); 1 node: not ready; 1 node: down",
    ],
  ])("%j", (reasons, want) => {
    expect(formatReasons(reasons)).toBe(want);
  });
});

describe("reasonDetail", () => {
  const vm = makeVm("v", {
    resources: { vcpus: 1, memoryMib: 8192, diskGib: 50 },
    constraints: ["zone=a", "gpu"].map(parseLabelExpression),
    antiAffinityGroup: "web",
    affinityGroup: "db",
  });
  const largestFree = { vcpus: 0, memoryMib: 4096, diskGib: 40 };
  it.each<[RejectReason, string]>([
    ["insufficient_cpu", "need 1 vCPU, largest free 0 vCPUs"],
    ["insufficient_memory", "need 8192 MiB, largest free 4096 MiB"],
    ["insufficient_disk", "need 50 GiB, largest free 40 GiB"],
    ["label_constraint", "zone=a, gpu"],
    ["anti_affinity", "group web"],
    ["affinity", "group db is on n7"],
    ["cordoned", ""],
    ["down", ""],
  ])("%s -> %j", (reason, want) => {
    expect(reasonDetail(reason, vm, { largestFree, affinityNode: "n7" })).toBe(want);
  });
});
