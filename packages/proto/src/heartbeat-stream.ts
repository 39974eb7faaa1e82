// The one timing of the StreamHeartbeats contract, kept by both ends: the scheduler answers a
// flowing stream at least every QUIET_STREAM_MS plus half the agent's interval (scheduler
// api/quiet-answer.ts), and an agent takes a stream silent for more than QUIET_STREAM_MS plus three
// of its intervals for a peer gone without a word (agent beat-stream.ts, registration.ts).
// Agents of every version so far drop a stream at 30 s plus three intervals: a scheduler must not
// answer more rarely than that, so this does not grow.

/** The quiet spell (ms) of a StreamHeartbeats stream that the scheduler answers after and the agent tolerates (plus intervals). */
export const QUIET_STREAM_MS = 30_000;
