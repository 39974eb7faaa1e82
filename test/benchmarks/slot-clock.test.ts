import { afterEach, describe, expect, it, vi } from "vitest";
import { slotClock } from "../../benchmarks/slot-clock.js";

// The fleets' beat rate must not depend on how punctual their thread's timers are.
describe("slotClock", () => {
  afterEach(() => vi.useRealTimers());

  it("visits the slots in turn, one per period / slots", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "performance"] });
    const seen: number[] = [];
    const stop = slotClock(4, 100, (s) => seen.push(s));
    vi.advanceTimersByTime(250);
    stop();
    vi.advanceTimersByTime(1000);
    expect(seen).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
  });

  it("runs the slots a late tick missed, but at most one period's", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval"] });
    let t = 0;
    const seen: number[] = [];
    const stop = slotClock(4, 100, (s) => seen.push(s), () => t);
    t = 75; // the thread was busy: the first tick comes three slots late
    vi.advanceTimersByTime(25);
    expect(seen).toEqual([0, 1, 2]);
    t = 1000; // far behind: each slot once
    vi.advanceTimersByTime(25);
    expect(seen).toEqual([0, 1, 2, 0, 1, 2, 3]);
    stop();
  });
});
