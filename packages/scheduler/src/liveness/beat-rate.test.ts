import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BeatFloor, beatBoundMs, beatTimeoutMs, cappedFloorMs, type BeatRateConfig } from "./beat-rate.js";

const config: BeatRateConfig = { heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 10_000, maxHeartbeatsPerSecond: 1000 };

describe("cappedFloorMs", () => {
  it.each([
    [0, 0],
    [2000, 0], // 2,000 nodes every 2 s are the cap's 1,000 a second: the configured interval holds
    [2001, 3000], // whole seconds, rounded up so the cap holds
    [10_000, 10_000],
    [25_500, 26_000],
  ])("%i nodes at 1,000 beats/s: %i ms", (nodes, floor) => {
    expect(cappedFloorMs(config, nodes)).toBe(floor);
  });

  it("gives no floor to a cluster within the cap, whatever the configured interval (below a second too)", () => {
    const fast = { ...config, heartbeatIntervalMs: 500, heartbeatTimeoutMs: 2000 };
    expect(cappedFloorMs(fast, 1)).toBe(0);
    expect(cappedFloorMs(fast, 500)).toBe(0);
    expect(cappedFloorMs(fast, 501)).toBe(1000);
  });

  it("0 disables the cap", () => {
    expect(cappedFloorMs({ ...config, maxHeartbeatsPerSecond: 0 }, 1_000_000)).toBe(0);
  });

  it("keeps any number of nodes within the cap", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), fc.integer({ min: 1, max: 10_000 }), (nodes, cap) => {
        const c = { ...config, maxHeartbeatsPerSecond: cap };
        const interval = Math.max(c.heartbeatIntervalMs, cappedFloorMs(c, nodes));
        expect(nodes / (interval / 1000)).toBeLessThanOrEqual(cap * (1 + 1e-9) + (interval === c.heartbeatIntervalMs ? Infinity : 0));
        if (interval > c.heartbeatIntervalMs) expect(interval % 1000).toBe(0);
      }),
    );
  });
});

describe("BeatFloor", () => {
  it("rises at once and comes down only well below the threshold", () => {
    const floor = new BeatFloor(config);
    expect(floor.floorMs(2001)).toBe(3000);
    expect(floor.floorMs(1999)).toBe(3000); // hovering at the threshold retells nobody
    expect(floor.floorMs(1700)).toBe(0);
    expect(floor.floorMs(10_000)).toBe(10_000);
    expect(floor.floorMs(8_500)).toBe(10_000);
    expect(floor.floorMs(8_000)).toBe(9000);
  });

  it("holds a floor that came down for a minute (heldMs), and a risen one at once", () => {
    let now = 0;
    const floor = new BeatFloor(config, () => now);
    expect(floor.floorMs(10_000)).toBe(10_000);
    now = 1000;
    expect(floor.floorMs(1_000)).toBe(0);
    expect(floor.heldMs()).toBe(10_000); // agents told 10 s beat at it until their next answer
    now = 60_000;
    expect(floor.heldMs()).toBe(10_000);
    now = 60_001;
    expect(floor.heldMs()).toBe(0);
    expect(floor.floorMs(5_000)).toBe(5000);
    expect(floor.heldMs()).toBe(5000);
  });
});

describe("beatBoundMs", () => {
  it("allows every correct agent's timeout: at the configured interval, at the floor held, or at a floor up to twice it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 10_000 }), fc.double({ min: 1.5, max: 10, noNaN: true }), fc.integer({ min: 0, max: 600_000 }), fc.double({ min: 0, max: 2, noNaN: true }), (interval, ratio, floor, rise) => {
        const c = { heartbeatIntervalMs: interval, heartbeatTimeoutMs: Math.round(interval * ratio) };
        const bound = beatBoundMs(c, floor);
        expect(bound).toBeGreaterThanOrEqual(c.heartbeatTimeoutMs);
        expect(bound).toBeGreaterThanOrEqual(beatTimeoutMs(c, Math.max(interval, Math.floor(floor * rise))));
      }),
    );
  });

  it("is the configured timeout when no floor is told, whatever an agent says", () => {
    expect(beatBoundMs(config, 0)).toBe(config.heartbeatTimeoutMs);
  });
});

/**
 * One node's life under floors told by any replicas, in any order, as the agent (beat-interval.ts)
 * keeps them: it beats at max(floor, configured), a floor heard between two beats takes effect
 * after the next one, and each beat says the interval to the next. The scheduler records each beat
 * with beatTimeoutMs of what it said. Returns, per beat, the silence until the next one and the
 * timeout recorded.
 */
function life(c: BeatRateConfig, floors: { afterBeat: number; floorMs: number }[], beats: number) {
  let interval = c.heartbeatIntervalMs;
  let next = interval;
  const gaps: { silenceMs: number; timeoutMs: number }[] = [];
  for (let k = 0; k < beats; k++) {
    interval = next; // a floor heard since the last beat takes effect with this one
    const said = interval;
    const timeoutMs = beatTimeoutMs(c, said);
    for (const f of floors.filter((f) => f.afterBeat === k)) {
      next = Math.max(c.heartbeatIntervalMs, f.floorMs);
    }
    // The next beat comes after the interval this one said (its timer was set before the answer).
    gaps.push({ silenceMs: said, timeoutMs });
  }
  return gaps;
}

describe("beatTimeoutMs", () => {
  const configs = fc.record({
    heartbeatIntervalMs: fc.integer({ min: 1000, max: 10_000 }),
    ratio: fc.double({ min: 1.5, max: 10, noNaN: true }),
    maxHeartbeatsPerSecond: fc.integer({ min: 1, max: 5000 }),
  }).map(({ heartbeatIntervalMs, ratio, maxHeartbeatsPerSecond }) => ({ heartbeatIntervalMs, heartbeatTimeoutMs: Math.round(heartbeatIntervalMs * ratio), maxHeartbeatsPerSecond }));
  // Floors as replicas tell them: each from a node count of its own, at any beat, larger or smaller.
  const floorsOf = (c: BeatRateConfig) =>
    fc.array(fc.record({ afterBeat: fc.integer({ min: 0, max: 40 }), nodes: fc.integer({ min: 0, max: 200_000 }) }), { maxLength: 20 }).map((fs) =>
      fs.map((f) => ({ afterBeat: f.afterBeat, floorMs: cappedFloorMs(c, f.nodes) })),
    );

  it("never times a node out before its next beat, and never below ratio × the interval it beats at", () => {
    fc.assert(
      fc.property(configs.chain((c) => fc.tuple(fc.constant(c), floorsOf(c))), ([c, floors]) => {
        const ratio = c.heartbeatTimeoutMs / c.heartbeatIntervalMs;
        for (const g of life(c, floors, 42)) {
          expect(g.timeoutMs).toBeGreaterThanOrEqual(c.heartbeatTimeoutMs);
          // The silence after each beat is one interval: the timeout is ratio × that (rounded up), never less.
          expect(g.timeoutMs).toBeGreaterThanOrEqual(Math.floor(ratio * g.silenceMs));
          expect(g.timeoutMs).toBeGreaterThan(g.silenceMs);
        }
      }),
    );
  });

  it("never below ratio × any floor told before the beat it times, still in force", () => {
    fc.assert(
      fc.property(configs.chain((c) => fc.tuple(fc.constant(c), floorsOf(c))), ([c, floors]) => {
        const ratio = c.heartbeatTimeoutMs / c.heartbeatIntervalMs;
        const gaps = life(c, floors, 42);
        gaps.forEach((g, k) => {
          // The floor in force at beat k is the last one told before beat k-1's answer (it takes effect one beat on).
          const earlier = floors.filter((f) => f.afterBeat < k);
          const inForce = earlier.filter((f) => f.afterBeat === Math.max(...earlier.map((e) => e.afterBeat))).at(-1);
          if (inForce) expect(g.timeoutMs).toBeGreaterThanOrEqual(Math.floor(ratio * inForce.floorMs));
        });
      }),
    );
  });

  it("a node that stops is DOWN within its timeout: the timeout is bounded by ratio × the interval it said", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3_600_000 }), (said) => {
        expect(beatTimeoutMs(config, said)).toBeLessThanOrEqual(Math.max(config.heartbeatTimeoutMs, Math.ceil(5 * said)));
      }),
    );
  });
});
