// One StreamHeartbeats stream to the scheduler: beats are written to it, and the scheduler answers
// only when there is something to hear (a new node state, domains to destroy, a changed revoked
// list) and at least every 30 s (QUIET_STREAM_MS, the proto package) and half an interval while beats flow. A stream silent far longer than that is taken
// for a peer gone without a word (no FIN), and the caller opens another.
import { Metadata, type ClientDuplexStream, type ServiceError } from "@grpc/grpc-js";
import type { HeartbeatRequest, HeartbeatResponse, NodeRegistryServiceClient, StreamHeartbeatsRequest, StreamHeartbeatsResponse } from "@drover/proto";

export interface BeatStreamEvents {
  /** An answer, with the scheduler's beat-rate floor (ms, 0: none; registration.ts beatIntervalMs). */
  answer(res: HeartbeatResponse, minIntervalMs: number): void;
  /** The stream ended with an error status (not by our own end()). */
  failed(err: ServiceError): void;
}

export class BeatStream {
  private readonly call: ClientDuplexStream<StreamHeartbeatsRequest, StreamHeartbeatsResponse>;
  private ended = false;
  private lastHeardAt = performance.now();
  /** Whether the scheduler answered on this stream yet (it answers the first beat). */
  answered = false;

  constructor(client: NodeRegistryServiceClient, events: BeatStreamEvents) {
    this.call = client.streamHeartbeats(new Metadata());
    this.call.on("data", (m: StreamHeartbeatsResponse) => {
      this.lastHeardAt = performance.now();
      this.answered = true;
      if (m.answer) events.answer(m.answer, m.minHeartbeatIntervalMs);
    });
    this.call.on("error", (err: ServiceError) => {
      const ours = this.ended;
      this.ended = true;
      if (!ours) events.failed(err);
    });
    // Ended by the scheduler with OK (it never does on its own): open another on the next beat.
    this.call.on("end", () => (this.ended = true));
  }

  /** False once the stream ended, or when it has been silent for `maxQuietMs` (then it is ended here). */
  usable(maxQuietMs: number): boolean {
    if (!this.ended && performance.now() - this.lastHeardAt > maxQuietMs) this.end(true);
    return !this.ended;
  }

  write(beat: HeartbeatRequest): void {
    this.call.write({ beat });
  }

  /** Ends it from our side (stop, reconnect; `cancel` for silence: a gone peer never answers a half-close); no failure is reported for it. */
  end(cancel = false): void {
    if (this.ended) return;
    this.ended = true;
    this.call.end();
    if (cancel) this.call.cancel();
  }
}
