import { describe, expect, it } from "vitest";
import { newVmId } from "./vm-id.js";

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe("newVmId", () => {
  it("makes UUIDv7s that carry the time and sort in the order they were made", () => {
    const before = Date.now();
    const ids = Array.from({ length: 20_000 }, () => newVmId());
    for (const id of ids) expect(id).toMatch(V7);
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    const ms = parseInt(ids[0]!.replace(/-/g, "").slice(0, 12), 16);
    expect(ms).toBeGreaterThanOrEqual(before);
    expect(ms).toBeLessThanOrEqual(Date.now() + 10);
  });

  it("stays in order past 4,096 ids in one millisecond and when the clock steps back", () => {
    const at = Date.now() + 60_000;
    const ids = [...Array.from({ length: 10_000 }, () => newVmId(at)), ...Array.from({ length: 10 }, () => newVmId(at - 5_000))];
    for (let i = 1; i < ids.length; i++) expect(ids[i]! > ids[i - 1]!).toBe(true);
    for (const id of ids) expect(id).toMatch(V7);
    expect(parseInt(ids.at(-1)!.replace(/-/g, "").slice(0, 12), 16) - at).toBe(2); // 10,010 ids: two counter overflows
  });
});
