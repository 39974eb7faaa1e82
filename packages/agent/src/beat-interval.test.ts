import { describe, expect, it } from "vitest";
import { beatIntervalMs } from "./beat-interval.js";

describe("beatIntervalMs", () => {
  it.each([
    // own, registered, floor, beats at
    [2000, 2000, 0, 2000], // nothing asked beyond our own
    [5000, 2000, 0, 2000], // the scheduler expects beats more often: it wins, as before the cap
    [1000, 2000, 0, 1000], // our own shorter interval stays
    [2000, 0, 0, 2000], // a scheduler that names no interval
    [2000, 2000, 10_000, 10_000], // the cap's floor is longer than our own: it wins
    [1000, 2000, 3000, 3000],
    [20_000, 2000, 3000, 3000], // a slow agent is held to the scheduler's interval, then to the floor
  ])("own %i ms, registered %i ms, floor %i ms: %i ms", (own, registered, floor, expected) => {
    expect(beatIntervalMs(own, registered, floor)).toBe(expected);
  });
});
