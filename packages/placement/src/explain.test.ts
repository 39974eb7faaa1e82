import { describe, expect, it } from "vitest";
import { formatReasons } from "./explain.js";
import { parseLabelExpression } from "./labels.js";
import { REASONS, type RejectReason } from "./registry.js";
import { makeState, makeVm, makeWorking } from "./testing.js";
import type { ReasonCount } from "./types.js";

describe("formatReasons", () => {
  it.each<[ReasonCount[], string]>([
    [[], ""],
    [[{ reason: "cordoned", nodes: 1, detail: "" }], "1 node: cordoned"],
    [
      [
        { reason: "insufficient_memory", nodes: 10, detail: "need 8192 MiB, largest free among them 4096 MiB" },
        { reason: "cordoned", nodes: 2, detail: "" },
      ],
      "10 nodes: insufficient memory (need 8192 MiB, largest free among them 4096 MiB); 2 nodes: cordoned",
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

describe("reason details", () => {
  const vm = makeVm("v", {
    resources: { vcpus: 3, memoryMib: 8192, diskGib: 50 },
    constraints: ["zone=a", "gpu"].map(parseLabelExpression),
    antiAffinityGroup: "web",
    affinityGroup: "db",
  });
  // The nodes a reason rejected: free 0 / 1 vCPUs, 1000 / 4096 MiB, 40 / 7 GiB.
  const rejected = [
    makeWorking("a", { capacity: { vcpus: 4, memoryMib: 8000, diskGib: 100 }, allocated: { vcpus: 4, memoryMib: 7000, diskGib: 60 } }),
    makeWorking("b", { capacity: { vcpus: 1, memoryMib: 4096, diskGib: 7 } }, 1),
  ];
  const anchor = makeWorking("n7", {}, 2);
  const state = makeState([...rejected, anchor], { db: anchor });
  it.each<[RejectReason, string]>([
    ["insufficient_cpu", "need 3 vCPUs, largest free among them 1 vCPU"],
    ["insufficient_memory", "need 8192 MiB, largest free among them 4096 MiB"],
    ["insufficient_disk", "need 50 GiB, largest free among them 40 GiB"],
    ["label_constraint", "zone=a, gpu"],
    ["anti_affinity", "group web"],
    ["affinity", "group db is on n7"],
    ["cordoned", ""],
    ["down", ""],
  ])("%s -> %j", (reason, want) => {
    expect(REASONS[reason].detail?.(vm, rejected, state) ?? "").toBe(want);
  });

  it("names no node for a new affinity group", () => {
    expect(REASONS.affinity.detail?.(vm, rejected, makeState(rejected))).toBe("group db");
  });
});
