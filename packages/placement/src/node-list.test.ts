import { describe, expect, it } from "vitest";
import { NodeList } from "./node-list.js";
import type { NodeSnapshot } from "./types.js";

const node = (name: string, vcpus = 0): NodeSnapshot => ({
  name,
  state: "READY",
  capacity: { vcpus: 16, memoryMib: 65536, diskGib: 1000 },
  reserved: { vcpus: 0, memoryMib: 0, diskGib: 0 },
  ratios: { cpu: 1, memory: 1, disk: 1 },
  allocated: { vcpus, memoryMib: 0, diskGib: 0 },
  labels: {},
  groups: {},
});

describe("NodeList", () => {
  it("logs the positions set since a version, repeats included", () => {
    const list = new NodeList([node("a"), node("b"), node("c")]);
    const v0 = list.version;
    list.set(2, node("c", 1));
    const v1 = list.version;
    list.set(0, node("a", 1));
    list.set(2, node("c", 2));
    expect([...list.changesSince(v0)!]).toEqual([2, 0, 2]);
    expect([...list.changesSince(v1)!]).toEqual([0, 2]);
    expect([...list.changesSince(list.version)!]).toEqual([]);
    expect(list.snapshots.map((n) => n.allocated.vcpus)).toEqual([1, 0, 2]);
  });

  it("answers null for a version its log no longer reaches, or one it never had", () => {
    const list = new NodeList([node("a")]);
    const v0 = list.version;
    for (let k = 0; k < 1024; k++) list.set(0, node("a", k));
    expect(list.changesSince(v0)!.length).toBe(1024);
    list.set(0, node("a", 9)); // the log is full: it starts over
    expect(list.changesSince(v0)).toBeNull();
    expect([...list.changesSince(1024)!]).toEqual([0]);
    expect(list.changesSince(list.version + 1)).toBeNull();
  });

  it("does not copy changes back into the array it was made from, and refuses another node's snapshot or a bad position", () => {
    const start = [node("a"), node("b")];
    const list = new NodeList(start);
    list.set(1, node("b", 3));
    expect(start[1]!.allocated.vcpus).toBe(0);
    expect(() => list.set(0, node("b"))).toThrow(/position 0 holds "a", not "b"/);
    expect(() => list.set(2, node("c"))).toThrow(/outside 0..1/);
  });
});
