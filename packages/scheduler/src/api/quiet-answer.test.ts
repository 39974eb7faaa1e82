// The quiet answer's cadence through serveBeats itself (a fake call and context, performance.now
// faked): an agent beating every 10 s (the beat-rate cap's interval at 10,000 nodes) hears the
// scheduler every fourth beat, and the gap stays within the agent's dead-peer tolerance at every
// interval.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
// The agent drops a stream silent for longer than QUIET_STREAM_MS plus three intervals (agent/beat-stream.ts).
import { NodeState, QUIET_STREAM_MS, StreamHeartbeatsRequest, type StreamHeartbeatsResponse } from "@drover/proto";
import type { SchedulerContext } from "../context.js";
import type { BeatSlot } from "../liveness/heartbeat-batcher.js";
import type { BeatCall } from "./beat-call.js";
import { serveBeats } from "./heartbeat-stream.js";
import { quietAnswerAfterMs } from "./quiet-answer.js";

beforeEach(() => void vi.useFakeTimers({ toFake: ["performance", "setTimeout", "Date"] }));
afterEach(() => void vi.useRealTimers());

/** One insecure stream whose beats are recorded at once, fresh, READY, the report unchanged; the floor is `floorMs`. */
async function stream(floorMs: number) {
  const answers: { at: number; res: StreamHeartbeatsResponse }[] = [];
  let message: (bytes: Buffer) => void = () => {};
  const call: BeatCall = {
    getAuthContext: () => ({}),
    onMessage: (f) => (message = f),
    onEnd: () => {},
    onClose: () => {},
    write: (res) => answers.push({ at: performance.now(), res }),
    finish: (code, details) => {
      throw new Error(`stream ended: ${code} ${details}`);
    },
  };
  const ctx = {
    config: { insecure: true, heartbeatIntervalMs: 2000, heartbeatTimeoutMs: 10_000 },
    log: () => {},
    metrics: { heartbeatSeconds: { observe: () => {} } },
    nodeStreams: { add: () => () => {}, size: 1 },
    beatFloor: { floorMs: () => floorMs },
    revoked: { list: () => Promise.resolve([]) },
    heartbeats: {
      enqueue: (slot: BeatSlot) => slot.recorded({ state: "READY", fresh: true, vmChanges: "1", lost: false }, slot.payload, slot.arrived, slot.timeoutMs),
      reports: { unchanged: () => true, forget: () => {} },
    },
  } as unknown as SchedulerContext;
  await serveBeats(ctx, call);
  let seq = 0;
  const beat = (intervalMs: number) =>
    message(Buffer.from(StreamHeartbeatsRequest.encode({ beat: { name: "node-a", bootId: "b", seq: ++seq, domains: [], libvirtUnavailable: "", intervalMs } }).finish()));
  return { answers, beat };
}

/** Beats every `intervalMs` for `ms`, each a little late as a busy agent's; the times of the answers. */
async function beatFor(floorMs: number, intervalMs: number, ms: number): Promise<number[]> {
  const s = await stream(floorMs);
  const start = performance.now();
  while (performance.now() - start < ms) {
    s.beat(intervalMs);
    await vi.advanceTimersByTimeAsync(intervalMs + 7);
  }
  expect(s.answers.every((a) => a.res.answer?.state === NodeState.NODE_STATE_READY && a.res.minHeartbeatIntervalMs === floorMs)).toBe(true);
  return s.answers.map((a) => a.at - start);
}

describe("the quiet answer", () => {
  it("at 10 s beats (the cap at 10,000 nodes), answers every fourth beat, not every third", async () => {
    const at = await beatFor(10_000, 10_000, 400_000);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    // A plain 30 s answered every third beat: 14 answers in 400 s. Now every fourth: 10.
    expect(at.length).toBe(10);
    expect(gaps.every((g) => g === 4 * 10_007)).toBe(true);
  });

  it("at 2 s beats (no cap), still about every 30 s", async () => {
    const at = await beatFor(0, 2000, 200_000);
    const gaps = at.slice(1).map((t, i) => t - at[i]!);
    expect(gaps.every((g) => g >= 30_000 && g <= 32_000 + 7 * 16)).toBe(true);
  });

  it("never leaves a stream silent past the agent's tolerance (30 s + 3 intervals), by at least an interval", () => {
    for (const intervalMs of [1000, 2000, 5000, 10_000, 20_000, 60_000, 3_600_000]) {
      // The longest gap: the spell, then up to one interval until the next beat comes.
      const longest = quietAnswerAfterMs(intervalMs) + intervalMs;
      expect(longest + intervalMs).toBeLessThanOrEqual(QUIET_STREAM_MS + 3 * intervalMs);
    }
  });
});
