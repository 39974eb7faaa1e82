// How often a StreamHeartbeats stream is answered while nothing changes: often enough that the
// agent never takes it for a dead peer, no oftener. The agent (agent/beat-stream.ts, registration.ts
// streamFor) drops a stream silent for more than QUIET_STREAM_MS (30 s) plus three of its intervals;
// agents of every version so far have that tolerance, so it is what the scheduler must keep within.
import { QUIET_STREAM_MS } from "@drover/proto";

/** The shortest quiet spell the scheduler answers after: the contract's, which the agent tolerates. */
export const QUIET_ANSWER_MS = QUIET_STREAM_MS;

/**
 * How long a stream whose agent says it beats every `intervalMs` (0: it does not say) goes without
 * an answer before a beat is answered: QUIET_ANSWER_MS plus half an interval. The answer goes with
 * the first beat past that, so the gap between two is at most 30 s + 1.5 intervals plus the beat's
 * record time, within the agent's 30 s + 3 intervals by 1.5 intervals. At 10,000 nodes slowed to
 * 10 s by the beat-rate cap, a plain 30 s answered every third beat (333 answers a second, each a
 * TLS record written); this answers every fourth (250).
 */
export function quietAnswerAfterMs(intervalMs: number): number {
  return QUIET_ANSWER_MS + Math.max(0, intervalMs) / 2;
}
