// Keepalive PINGs on one HTTP/2 session to an agent, as gRPC's client-side keepalive does
// (gRPC proposal A8, doc/keepalive.md; grpc-js transport.ts): a session the agent has been silent
// on for `timeMs` is PINGed, and one whose PING goes unanswered for `timeoutMs` is closed, so its
// calls fail UNAVAILABLE and the next call dials anew. Without it a half-open connection (the host
// gone without FIN or RST) held every call on it until its deadline (60 s by default).
//
// Only sessions with calls outstanding are PINGed, as grpc-js' default
// (keepalive_permit_without_calls = 0): the scheduler keeps a session to each of 10,000 agents,
// and idle ones cost nothing. Where grpc-js then waits for its timer once a call comes, a call on
// a session silent for `timeMs` PINGs at once, so a connection that died while idle is found
// within `timeoutMs` of the first call. A session that is answering (responses, PING acks) is not
// PINGed: at most one PING per `timeMs` per session, and none at all on a busy, healthy one.
import type { ClientHttp2Session } from "node:http2";

export interface KeepaliveOptions {
  /**
   * Silence from the agent, with calls outstanding, after which the session is PINGed. gRPC's
   * floor for client keepalive time (A8) is 10 s; a call's deadline is 60 s by default.
   * @default 10_000
   */
  timeMs: number;
  /**
   * How long a PING may go unanswered before the session is closed. An agent answers a PING from
   * its event loop (nghttp2, no handler), in well under a second on a LAN: 10 s leaves room for a
   * stalled event loop on either side before a live session is given up.
   * @default 10_000
   */
  timeoutMs: number;
}

export const DEFAULT_KEEPALIVE: KeepaliveOptions = { timeMs: 10_000, timeoutMs: 10_000 };

/** The keepalive of one session: told when calls start and end and when the agent was heard from. */
export class SessionKeepalive {
  private calls = 0;
  private heardAt = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private pinging = false;
  private stopped = false;

  constructor(
    private readonly http2: ClientHttp2Session,
    private readonly options: KeepaliveOptions,
    /** The agent did not answer a PING in time: close the session with this error. */
    private readonly onDead: (err: Error) => void,
  ) {}

  callStarted(): void {
    if (this.calls++ === 0) this.arm();
  }

  callEnded(): void {
    this.calls--; // the timer, if any, finds no calls and lets the session rest
  }

  /** The agent answered something (a response's headers): the connection works. */
  heard(): void {
    this.heardAt = Date.now();
  }

  /** The session closed. */
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** PING now if the agent has been silent for timeMs, otherwise look again when it will have been. */
  private arm(): void {
    if (this.timer || this.pinging || this.stopped) return;
    const silentMs = Date.now() - this.heardAt;
    if (silentMs >= this.options.timeMs) return this.ping();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.calls > 0) this.arm();
    }, this.options.timeMs - silentMs);
    this.timer.unref();
  }

  private ping(): void {
    this.pinging = true;
    const timeout = setTimeout(
      () => this.dead(new Error(`no answer to a keepalive PING within ${this.options.timeoutMs / 1000} s (the connection is half-open or the agent stalled)`)),
      this.options.timeoutMs,
    );
    timeout.unref();
    const answered = (err: Error | null) => {
      clearTimeout(timeout);
      this.pinging = false;
      if (err) return this.dead(err); // the session closed meanwhile (a cancelled PING)
      this.heard();
      if (this.calls > 0) this.arm();
    };
    let sent: boolean | undefined;
    try {
      // undefined while connecting: node sends it once connected, and the timeout covers a connect that hangs.
      sent = this.http2.ping(answered);
    } catch {
      sent = false; // the session was destroyed (grpc/grpc-node#2139)
    }
    if (sent === false) answered(new Error("the keepalive PING could not be sent"));
  }

  private dead(err: Error): void {
    if (this.stopped) return;
    this.stop();
    this.onDead(err);
  }
}
