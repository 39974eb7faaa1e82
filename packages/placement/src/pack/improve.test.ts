import { describe, expect, it } from "vitest";
import { emptyOpenedNodes } from "./improve.js";
import { needsOf, PackModel } from "./model.js";
import { makeNode, makeVm } from "../testing.js";
import type { NodeSnapshot } from "../types.js";

// Hosts of 10 vCPUs / 10 MiB / 10 GiB; VMs are [cpu, mem] with no disk.
const host = (name: string, init: Parameters<typeof makeNode>[1] = {}): NodeSnapshot =>
  makeNode(name, { capacity: { vcpus: 10, memoryMib: 10, diskGib: 10 }, ...init });

function run(nodes: NodeSnapshot[], sizes: [number, number][], placed: number[], budget?: number) {
  const vms = sizes.map(([vcpus, memoryMib], i) => makeVm(`v${i}`, { resources: { vcpus, memoryMib, diskGib: 0 } }));
  const needs = needsOf(vms);
  const model = new PackModel(nodes);
  const nodeOf = Int32Array.from(placed);
  for (let v = 0; v < placed.length; v++) model.add(placed[v]!, needs, v, 1);
  const emptied = emptyOpenedNodes(model, needs, nodeOf, budget);
  // The model must stay in step with the assignment and within every node's room.
  const check = new PackModel(nodes);
  for (let v = 0; v < placed.length; v++) check.add(nodeOf[v]!, needs, v, 1);
  expect(Array.from(model.used)).toEqual(Array.from(check.used));
  for (let i = 0; i < model.used.length; i++) expect(model.used[i]!).toBeLessThanOrEqual(model.alloc[i]!);
  return { emptied, nodeOf: Array.from(nodeOf) };
}

describe("emptyOpenedNodes", () => {
  it.each<{ what: string; nodes: NodeSnapshot[]; sizes: [number, number][]; placed: number[]; emptied: number; nodeOf: number[] }>([
    {
      what: "moves the VMs of the least loaded node into the others' room",
      nodes: [host("a"), host("b"), host("c")],
      // c (least loaded) goes: each VM to the fullest node with room (a, first of equals, then a again).
      sizes: [[6, 6], [6, 6], [2, 2], [2, 2]],
      placed: [0, 1, 2, 2],
      emptied: 1,
      nodeOf: [0, 1, 0, 0],
    },
    {
      what: "swaps when no node has room: v3 replaces v1 on a, v1 goes to b",
      nodes: [host("a"), host("b"), host("c")],
      // a: v0 (5,5) + v1 (4,1); b: v2 (2,8); c: v3 (4,3) fits nowhere, but on a once v1 moves to b.
      sizes: [[5, 5], [4, 1], [2, 8], [4, 3]],
      placed: [0, 0, 1, 2],
      emptied: 1,
      nodeOf: [0, 1, 1, 0],
    },
    {
      what: "leaves everything as it was when no node can be emptied",
      nodes: [host("a"), host("b")],
      sizes: [[6, 6], [6, 6]],
      placed: [0, 1],
      emptied: 0,
      nodeOf: [0, 1],
    },
    {
      what: "never moves a VM onto a node that is not READY, nor empties a node used before the batch",
      nodes: [host("a", { allocated: { vcpus: 1 } }), host("b", { state: "CORDONED", allocated: { vcpus: 1 } }), host("c")],
      sizes: [[2, 2], [8, 8]],
      placed: [2, 0],
      emptied: 0,
      nodeOf: [2, 0],
    },
    {
      what: "fills a partly used node before keeping an opened one",
      nodes: [host("a", { allocated: { vcpus: 5, memoryMib: 5 } }), host("c")],
      sizes: [[2, 2], [3, 3]],
      placed: [1, 1],
      emptied: 1,
      nodeOf: [0, 0],
    },
  ])("$what", ({ nodes, sizes, placed, emptied, nodeOf }) => {
    const r = run(nodes, sizes, placed);
    expect(r.emptied).toBe(emptied);
    expect(r.nodeOf).toEqual(nodeOf);
  });

  it("with no budget it changes nothing", () => {
    const r = run([host("a"), host("b"), host("c")], [[6, 6], [6, 6], [2, 2], [2, 2]], [0, 1, 2, 2], 0);
    expect(r).toEqual({ emptied: 0, nodeOf: [0, 1, 2, 2] });
  });
});
