// StreamHeartbeats: an agent's beats on one long-lived stream. A unary Heartbeat pays grpc-js's
// and HTTP/2's whole per-call cost (headers, a stream, trailers, the interceptor chain) and a
// certificate standing check; at 10,000 nodes every 2 s that was ~600 µs of scheduler CPU a beat.
// Here the certificate is checked once, when the stream opens (node-streams.ts ends the stream
// when it is revoked or expires), and a beat is one message: the same acceptHeartbeat as the
// unary call (batched record, report memo), answered only when the agent has something to learn;
// every answer carries the beat-rate floor (liveness/beat-rate.ts), and a beat is recorded with the
// timeout the interval it says allows.
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { HeartbeatResponse, StreamHeartbeatsResponse } from "@drover/proto";
import type { NodeStateName } from "@drover/store";
import type { SchedulerContext } from "../context.js";
import { acceptRecorded, stampBeat, type Accepted, type Beat } from "../liveness/heartbeat.js";
import { STREAM_LINGER_MS, type BeatSlot } from "../liveness/heartbeat-batcher.js";
import { authenticatedPeer, otherNodeRefusal } from "../tls/authorize-node.js";
import type { NodeStream } from "../tls/node-streams.js";
import { grpcBeatCall, type BeatCall } from "./beat-call.js";
import { BeatReader } from "./beat-reader.js";
import { quietAnswerAfterMs } from "./quiet-answer.js";
import { toNodeState } from "./convert.js";
import { streamStatus } from "./grpc-status.js";
import { validateNodeName } from "./validation.js";

const PATH = "/drover.v1.NodeRegistryService/StreamHeartbeats";

/** The grpc-js handler (its messages arrive as bytes: checked-service.ts). */
export function streamHeartbeats(ctx: SchedulerContext): (call: ServerDuplexStream<Buffer, StreamHeartbeatsResponse>) => void {
  return (call) => void serveBeats(ctx, grpcBeatCall(call));
}

/** Serves one StreamHeartbeats stream, carried by grpc-js or by the HTTP/2 stream itself (direct-beats.ts). */
export async function serveBeats(ctx: SchedulerContext, call: BeatCall): Promise<void> {
  let ended = false;
  let release = () => {};
  const finish = (st: { code: status; details: string }) => {
    if (ended) return;
    ended = true;
    release();
    call.finish(st.code, st.details);
  };
  const fail = (err: unknown) => finish(streamStatus(err, PATH, ctx.log) as { code: status; details: string });
  const closed = () => {
    ended = true;
    release();
  };
  call.onClose(closed);
  call.onEnd(() => {
    if (!ended) call.finish(status.OK, "");
    closed();
  });

  let peer: Awaited<ReturnType<typeof authenticatedPeer>>;
  try {
    peer = await authenticatedPeer(ctx, call);
  } catch (err) {
    return fail(err);
  }
  if (ended) return;
  // Insecure mode has no certificate: the stream is the node's its first beat names.
  let node = peer?.name;
  let lastState: NodeStateName | undefined;
  let lastAnswerAt = 0;
  /** The beat-rate floor last told on this stream (beat-rate.ts); every answer repeats it. */
  let toldFloorMs = -1;
  const answer = (res: HeartbeatResponse) => {
    if (ended) return;
    lastAnswerAt = performance.now();
    call.write({ answer: res, minHeartbeatIntervalMs: Math.max(0, toldFloorMs) });
  };
  const stream: NodeStream = {
    node: node ?? "",
    ...(peer ? { serial: peer.serial, notAfter: peer.notAfter } : {}),
    end: fail,
    shutdown: () => finish({ code: status.UNAVAILABLE, details: "this scheduler replica is shutting down; heartbeat to another" }),
    revokedChanged: (serials) => {
      if (lastState !== undefined) answer({ state: toNodeState(lastState), destroyVmIds: [], revokedSerials: serials });
    },
  };
  release = ctx.nodeStreams.add(stream);

  const reader = new BeatReader();
  const answered = (accepted: Accepted, beat: Beat, receivedAt: number) => {
    ctx.metrics.heartbeatSeconds.observe("total", (performance.now() - receivedAt) / 1000);
    const { state, destroyVmIds } = accepted;
    const floorMs = ctx.beatFloor.floorMs(ctx.nodeStreams.size);
    // An agent that says it beats faster than the floor has not heard it (a new registration forgets it).
    const floorUnheard = floorMs !== toldFloorMs || ((beat.intervalMs ?? 0) > 0 && beat.intervalMs! < floorMs);
    // Only what the agent needs to hear: the first answer, a new state or floor, domains to destroy,
    // and one now and then so it knows the stream lives. (A changed revoked list goes out from the sweep.)
    // (The quiet answer's spell grows with the interval the beat says, within the agent's tolerance: quiet-answer.ts.)
    if (state === lastState && !floorUnheard && destroyVmIds.length === 0 && performance.now() - lastAnswerAt < quietAnswerAfterMs(beat.intervalMs ?? 0)) return;
    lastState = state;
    toldFloorMs = floorMs;
    ctx.revoked.list().then((revokedSerials) => answer({ state: toNodeState(state), destroyVmIds, revokedSerials }), fail);
  };
  // One slot for all the stream's beats (heartbeat-batcher.ts): an unchanged beat is recorded and
  // answered (or not) with no promise and no object of its own.
  const slot: BeatSlot<Beat> = {
    name: "",
    bootId: "",
    seq: 0,
    arrived: 0,
    timeoutMs: 0,
    payload: undefined as unknown as Beat,
    queued: false,
    recorded: (recorded, beat, receivedAt, timeoutMs) => {
      if (ended) return;
      ctx.metrics.heartbeatSeconds.observe("record", (performance.now() - receivedAt) / 1000);
      try {
        const accepted = acceptRecorded(ctx, beat, recorded, timeoutMs, receivedAt);
        if (accepted instanceof Promise) accepted.then((a) => answered(a, beat, receivedAt), fail);
        else answered(accepted, beat, receivedAt);
      } catch (err) {
        fail(err);
      }
    },
    failed: fail,
  };
  const beat = (bytes: Buffer): void => {
    const receivedAt = performance.now();
    const received = reader.read(bytes);
    const name = received.name;
    if (name !== node) {
      validateNodeName("beat.name", name);
      if (node !== undefined) throw otherNodeRefusal(ctx, node, name);
      node = stream.node = name;
    }
    // Its name, boot id, seq and timeout, as a unary beat's are taken.
    stampBeat(ctx.config, received, slot);
    slot.arrived = receivedAt;
    slot.payload = received;
    // Nobody waits on a streamed beat's answer: its record may wait longer for others (fewer statements).
    ctx.heartbeats.enqueue(slot, STREAM_LINGER_MS);
  };
  call.onMessage((bytes) => {
    if (ended) return;
    try {
      beat(bytes);
    } catch (err) {
      fail(err);
    }
  });
}
