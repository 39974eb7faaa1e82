import { describe, expect, it } from "vitest";
import { defaultMaxCandidates, FULL_SCAN_NODES, SPREAD_CANDIDATES } from "./candidates.js";

describe("defaultMaxCandidates", () => {
  it("scans every node for pack, at any size", () => {
    for (const n of [0, 10, 1000, 100_000]) expect(defaultMaxCandidates("pack", n)).toBeUndefined();
  });
  it("scans every node of a small cluster for spread, then samples", () => {
    expect(defaultMaxCandidates("spread", 0)).toBeUndefined();
    expect(defaultMaxCandidates("spread", FULL_SCAN_NODES)).toBeUndefined();
    expect(defaultMaxCandidates("spread", FULL_SCAN_NODES + 1)).toBe(SPREAD_CANDIDATES);
    expect(defaultMaxCandidates("spread", 50_000)).toBe(SPREAD_CANDIDATES);
  });
});
