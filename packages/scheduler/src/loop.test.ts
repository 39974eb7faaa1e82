import { describe, expect, it } from "vitest";
import { Loop } from "./loop.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `cond` holds (a loaded machine runs timers late), failing after 2 s. */
async function until(cond: () => boolean): Promise<void> {
  for (const started = Date.now(); !cond(); await sleep(1)) {
    if (Date.now() - started > 2000) throw new Error("condition not reached within 2 s");
  }
}

/** A tick that counts its runs and can be held open until release(). */
function gatedTick() {
  let runs = 0;
  let concurrent = 0;
  let maxConcurrent = 0;
  let gate: (() => void) | undefined;
  let held = false;
  return {
    get runs() {
      return runs;
    },
    get maxConcurrent() {
      return maxConcurrent;
    },
    hold() {
      held = true;
    },
    release() {
      held = false;
      gate?.();
    },
    tick: async () => {
      runs++;
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      if (held) await new Promise<void>((r) => (gate = r));
      concurrent--;
    },
  };
}

const noErrors = (name: string, err: unknown) => {
  throw new Error(`${name} reported ${String(err)}`);
};

describe("Loop", () => {
  it("runs the first tick at start (the period is a minute) and then every period", async () => {
    const first = gatedTick();
    const slow = new Loop("slow", 60_000, first.tick, noErrors);
    slow.start();
    await until(() => first.runs === 1);
    await slow.stop();

    const at: number[] = [];
    const loop = new Loop("t", 20, async () => void at.push(performance.now()), noErrors);
    loop.start();
    await until(() => at.length >= 4);
    await loop.stop();
    // A period apart: timers may run late, never (more than a ms) early.
    for (let i = 1; i < at.length; i++) expect(at[i]! - at[i - 1]!).toBeGreaterThanOrEqual(19);
  });

  it("wake() runs the next tick at once instead of after the period", async () => {
    const t = gatedTick();
    const loop = new Loop("t", 60_000, t.tick, noErrors);
    loop.start();
    await until(() => t.runs === 1);
    loop.wake();
    // The period is a minute: only the wake can run the second tick.
    await until(() => t.runs === 2);
    await loop.stop();
  });

  it("a wake() during a tick runs one more tick right after it, never two at once", async () => {
    const t = gatedTick();
    const loop = new Loop("t", 60_000, t.tick, noErrors);
    t.hold();
    loop.start();
    await until(() => t.runs === 1);
    loop.wake();
    loop.wake();
    loop.wake();
    await sleep(5);
    expect(t.runs).toBe(1);
    t.release();
    await until(() => t.runs === 2);
    await sleep(20);
    // The three wakes while busy fold into one follow-up tick.
    expect(t.runs).toBe(2);
    expect(t.maxConcurrent).toBe(1);
    await loop.stop();
  });

  it("reports a failing tick by name and keeps running", async () => {
    const errors: string[] = [];
    let runs = 0;
    const loop = new Loop(
      "flaky",
      5,
      async () => {
        runs++;
        if (runs <= 2) throw new Error(`blip ${runs}`);
      },
      (name, err) => errors.push(`${name}: ${(err as Error).message}`),
    );
    loop.start();
    await until(() => runs > 2);
    await loop.stop();
    expect(errors).toEqual(["flaky: blip 1", "flaky: blip 2"]);
    expect(runs).toBeGreaterThan(2);
  });

  it("stop() waits for the tick in flight and no tick runs after it, not even on wake()", async () => {
    const t = gatedTick();
    const loop = new Loop("t", 5, t.tick, noErrors);
    t.hold();
    loop.start();
    await until(() => t.runs === 1);
    let stopped = false;
    const stopping = loop.stop().then(() => (stopped = true));
    await sleep(5);
    expect(stopped).toBe(false);
    t.release();
    await stopping;
    const runs = t.runs;
    loop.wake();
    await sleep(30);
    expect(t.runs).toBe(runs);
  });

  it("stop() before the first tick runs prevents it", async () => {
    const t = gatedTick();
    const loop = new Loop("t", 5, t.tick, noErrors);
    loop.start();
    await loop.stop();
    await sleep(20);
    expect(t.runs).toBe(0);
  });
});
