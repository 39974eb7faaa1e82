import { describe, expect, it } from "vitest";
import { fnv1a, tieBreak, vmHash } from "./seed.js";

describe("fnv1a", () => {
  it.each<[string, number]>([
    ["", 0x811c9dc5],
    ["a", 0xe40c292c],
    ["foobar", 0xbf9cf968],
  ])("%j hashes to the published FNV-1a 32 value", (s, want) => {
    expect(fnv1a(s)).toBe(want);
  });

  it("continues a hash", () => {
    expect(fnv1a("bar", fnv1a("foo"))).toBe(fnv1a("foobar"));
  });
});

describe("vmHash / tieBreak", () => {
  it("separates seed from key", () => {
    expect(vmHash("ab", "c")).not.toBe(vmHash("a", "bc"));
  });
  it("is stable and spreads over node names", () => {
    const h = vmHash("seed", "vm-1");
    const ranks = Array.from({ length: 100 }, (_, i) => tieBreak(h, fnv1a(`node-${i}`)));
    expect(new Set(ranks).size).toBe(100);
    expect(ranks.every((r) => Number.isInteger(r) && r >= 0 && r < 2 ** 32)).toBe(true);
    expect(tieBreak(h, fnv1a("node-1"))).toBe(ranks[1]);
  });
});
