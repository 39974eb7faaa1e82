import { describe, expect, it } from "vitest";
import { fnv1a, shuffledIndices, tieBreak, vmHash, xorshift32 } from "./seed.js";

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

describe("shuffledIndices", () => {
  it.each([0, 1, 2, 10, 257])("is a permutation of 0..%i-1", (n) => {
    const p = [...shuffledIndices(n, "s")];
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
  });
  it("depends on the seed only", () => {
    expect([...shuffledIndices(50, "x")]).toEqual([...shuffledIndices(50, "x")]);
    expect([...shuffledIndices(50, "x")]).not.toEqual([...shuffledIndices(50, "y")]);
  });
  it("xorshift32 never sticks at 0", () => {
    const next = xorshift32("");
    for (let i = 0; i < 1000; i++) expect(next()).not.toBe(0);
  });
});
