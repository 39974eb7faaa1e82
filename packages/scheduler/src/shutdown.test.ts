import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { ShutdownSteps } from "./shutdown.js";

describe("ShutdownSteps", () => {
  it("waits for open work until the grace ends, then reports what is still open", async () => {
    const reports: string[][] = [];
    const steps = new ShutdownSteps(100, (open) => reports.push(open));
    const start = Date.now();
    await Promise.all([steps.graceStep("loop quick", () => sleep(10)), steps.graceStep("loop stuck", () => new Promise(() => {}))]);
    expect(Date.now() - start).toBeGreaterThanOrEqual(95);
    expect(reports).toHaveLength(1);
    expect(reports[0]).toEqual([expect.stringMatching(/^loop stuck \(0\.\d s\)$/)]);
    expect(steps.stillOpen()).toEqual([expect.stringMatching(/^loop stuck /)]);
    // done() says the stop needed the cut, and what it cut off.
    expect(steps.done()).toEqual([expect.stringMatching(/^loop stuck /)]);
  });

  it("does not wait for the grace when the work ends, and done() leaves no report", async () => {
    const reports: string[][] = [];
    const steps = new ShutdownSteps(50, (open) => reports.push(open));
    await steps.graceStep("loop", () => sleep(5));
    await steps.step("database", () => sleep(5));
    expect(steps.done()).toBeUndefined();
    await sleep(80);
    expect(reports).toEqual([]);
    expect(steps.stillOpen()).toEqual([]);
  });

  it("passes a failure before the grace on, and swallows one after it", async () => {
    const steps = new ShutdownSteps(30, () => {});
    await expect(steps.graceStep("fails", () => Promise.reject(new Error("no")))).rejects.toThrow("no");
    await steps.graceStep("fails late", () => sleep(60).then(() => Promise.reject(new Error("late"))));
    await sleep(60); // an unhandled rejection would fail the run
    steps.done();
  });
});
