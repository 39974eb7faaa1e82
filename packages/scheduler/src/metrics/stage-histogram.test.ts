import { Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { StageHistogram } from "./stage-histogram.js";

const BUCKETS = [0.005, 0.01, 0.25, 1, 10];

describe("StageHistogram", () => {
  it("exposes what prom-client's Histogram exposes for the same observations", async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const fast = new StageHistogram("x_seconds", "help text", ["record", "total"], BUCKETS, ours);
    const slow = new Histogram({ name: "x_seconds", help: "help text", labelNames: ["stage"], buckets: BUCKETS, registers: [theirs] });
    // On a bound, between bounds, above the last one, and a stage never observed (total twice only).
    const record = [0, 0.005, 0.0051, 0.25, 0.3, 1, 9.99, 10, 11, 1000];
    for (const v of record) {
      fast.observe("record", v);
      slow.observe({ stage: "record" }, v);
    }
    for (const v of [0.02, 0.02]) {
      fast.observe("total", v);
      slow.observe({ stage: "total" }, v);
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    fast.reset();
    slow.reset();
    expect(await ours.metrics()).toBe(await theirs.metrics());
  });

  it("refuses buckets that do not increase", () => {
    expect(() => new StageHistogram("y", "h", ["a"], [1, 1])).toThrow(/buckets must increase/);
  });
});
