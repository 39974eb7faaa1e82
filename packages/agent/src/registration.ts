// Keeps this node known to the scheduler: RegisterNode until it succeeds, then a
// heartbeat every interval carrying every drover domain's state, on one StreamHeartbeats
// stream (beat-stream.ts), or as Heartbeat calls to a scheduler that lacks it. The scheduler
// may be down or restarted at any time; this loop never throws, it retries.
// Each beat carries this run's boot id and a sequence number, so the scheduler
// can tell a late beat from a new one.
import { randomUUID } from "node:crypto";
import { type CallOptions, type ChannelCredentials, Metadata, type ServiceError, credentials, status } from "@grpc/grpc-js";
import { beatIntervalMs } from "./beat-interval.js";
import { BeatStream } from "./beat-stream.js";
import {
  type DomainStatus,
  type HeartbeatRequest,
  type HeartbeatResponse,
  NodeRegistryServiceClient,
  QUIET_STREAM_MS,
  type RegisterNodeRequest,
  type RegisterNodeResponse,
} from "@drover/proto";

export interface RegistrationOptions {
  schedulerAddress: string;
  /** mTLS with the node's certificate; insecure when absent. */
  credentials?: ChannelCredentials;
  nodeName: string;
  /** What to announce; called on every (re-)registration so capacity stays current. */
  registerRequest: () => Promise<RegisterNodeRequest>;
  /** The states to report; should not wait for libvirt, so a busy libvirt cannot delay the beat. */
  domains: () => Promise<DomainStatus[]>;
  /** Why libvirt is unreachable now ("" when it is reachable); sent with every beat. */
  libvirtUnavailable?: () => string;
  /** This run of the agent; default {@link newBootId}(). */
  bootId?: string;
  heartbeatIntervalMs: number;
  /** First retry delay after a failed RegisterNode; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Per-call deadline. */
  callTimeoutMs?: number;
  log?: (message: string) => void;
  /** Called with the scheduler's answer before the node counts as registered; throwing refuses it. */
  onRegistered?: (res: RegisterNodeResponse) => void;
  onHeartbeat?: (res: HeartbeatResponse) => void;
  /**
   * Called after each heartbeat call: how much later than due it was sent (due: one interval after
   * the previous beat was sent, when the scheduler expects it) and how long the call took.
   */
  onBeatTimed?: (t: { lateMs: number; callMs?: number }) => void;
  /** Beat on a StreamHeartbeats stream (default), falling back to Heartbeat calls where the scheduler lacks it; false: calls only. */
  streamHeartbeats?: boolean;
  /** Called on every failed scheduler call. */
  onError?: (err: unknown) => void;
}

/** A boot id that sorts after those of earlier boots: the boot time in hex, then random. */
export function newBootId(bootTimeMs = Date.now()): string {
  return `${bootTimeMs.toString(16).padStart(12, "0")}-${randomUUID()}`;
}

/** How long an agent whose scheduler lacked StreamHeartbeats beats with calls before it tries the stream again (the scheduler may be upgraded). */
export const UNARY_RETRY_STREAM_MS = 5 * 60_000;

export class Registration {
  readonly bootId: string;
  private seq = 0;
  private client: NodeRegistryServiceClient;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private paused = false;
  private registered = false;
  private backoffMs: number;
  private intervalMs: number;
  /** The interval RegisterNode asked for (0: none) and the beat-rate floor the stream told (beat-interval.ts). */
  private registeredMs = 0;
  private floorMs = 0;
  private lastError = "";
  private readonly waiters: Array<() => void> = [];
  private running: Promise<void> | undefined;
  private inFlight = false;
  private lastSentAt: number | undefined;
  /** The interval the last beat said (HeartbeatRequest.interval_ms). */
  private lastSaidMs = 0;
  /** Heartbeat calls not answered yet: several may be, when the scheduler answers slower than the interval. */
  private readonly beats = new Set<Promise<void>>();
  private stream: BeatStream | undefined;
  /** Until when beats go as Heartbeat calls: the scheduler answered StreamHeartbeats UNIMPLEMENTED (an older one). */
  private unaryUntil = 0;

  constructor(private readonly opts: RegistrationOptions) {
    this.bootId = opts.bootId ?? newBootId();
    this.backoffMs = opts.initialBackoffMs ?? 200;
    this.intervalMs = opts.heartbeatIntervalMs;
    this.client = this.newClient();
  }

  private newClient(): NodeRegistryServiceClient {
    // grpc-js backs off reconnects up to 120 s by default; cap it so we notice a
    // restarted scheduler within a couple of seconds.
    return new NodeRegistryServiceClient(this.opts.schedulerAddress, this.opts.credentials ?? credentials.createInsecure(), {
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": Math.min(this.opts.maxBackoffMs ?? 2000, 2000),
      // Its own connection, not one shared from grpc-js's global pool: reconnect() must make a
      // new handshake (with the renewed certificate).
      "grpc.use_local_subchannel_pool": 1,
    });
  }

  /** A new connection for the next call (after a certificate renewal); the old one closes once its call is done. */
  reconnect(): void {
    this.stream?.end();
    this.stream = undefined;
    const old = this.client;
    this.client = this.newClient();
    setTimeout(() => old.close(), (this.opts.callTimeoutMs ?? 5000) + 1000).unref();
  }

  /** Runs the first attempt now and resolves after it (whatever its outcome); the loop continues in the background. */
  start(): Promise<void> {
    this.running = this.tick();
    return this.running;
  }

  /** Resolves once registered (again, after a NOT_FOUND). */
  whenRegistered(): Promise<void> {
    if (this.registered) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  get isRegistered(): boolean {
    return this.registered;
  }

  /** Whether beats go on a StreamHeartbeats stream the scheduler has answered on. */
  get streaming(): boolean {
    return this.stream?.answered === true && this.stream.usable(Number.POSITIVE_INFINITY);
  }

  /** Stops sending anything to the scheduler (the node looks dead to it). */
  pause(): void {
    this.paused = true;
  }

  /** Resumes at once with a heartbeat (or a registration if the node is unknown). */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.stopped || this.inFlight) return;
    clearTimeout(this.timer);
    this.running = this.tick();
  }

  /** Sends the next heartbeat now rather than at the end of the interval (something worth telling changed). */
  beatNow(): void {
    if (this.stopped || this.paused || this.inFlight || !this.registered) return;
    clearTimeout(this.timer);
    this.running = this.tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    await Promise.all(this.beats);
    this.stream?.end();
    this.client.close();
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.tick();
    }, ms);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.paused) return;
    if (this.registered) {
      // Heartbeats keep their own cadence: the next is due one interval after this one is sent,
      // however long the scheduler takes to answer (it reconciles every domain state the beat
      // carries; waiting for that made each beat as late as the previous answer was slow).
      this.schedule(this.intervalMs);
      const beat = this.heartbeat();
      this.beats.add(beat);
      await beat.finally(() => this.beats.delete(beat));
      return;
    }
    this.inFlight = true;
    try {
      await this.register();
    } finally {
      this.inFlight = false;
      if (!this.paused) this.schedule(this.registered ? this.intervalMs : this.backoffMs);
      if (!this.registered) this.backoffMs = Math.min(this.backoffMs * 2, this.opts.maxBackoffMs ?? 5000);
    }
  }

  private async register(): Promise<void> {
    try {
      const req = await this.opts.registerRequest();
      const res = await this.call<RegisterNodeRequest, RegisterNodeResponse>("registerNode", req);
      // May refuse the scheduler's answer (another cluster's): then this node stays unregistered.
      this.opts.onRegistered?.(res);
      this.registered = true;
      this.backoffMs = this.opts.initialBackoffMs ?? 200;
      // Follow the scheduler when it expects heartbeats more often than configured. A floor told
      // before is forgotten: the node's record starts again at the configured timeout, and the
      // stream tells the floor again on the next beat.
      this.registeredMs = res.heartbeatIntervalSeconds * 1000;
      this.floorMs = 0;
      this.intervalMs = beatIntervalMs(this.opts.heartbeatIntervalMs, this.registeredMs, this.floorMs);
      this.lastError = "";
      this.opts.log?.(`registered as ${req.name} with the scheduler at ${this.opts.schedulerAddress}`);
      for (const w of this.waiters.splice(0)) w();
    } catch (err) {
      this.warn(`RegisterNode with ${this.opts.schedulerAddress} failed (retrying in ${this.backoffMs} ms)`, err);
    }
  }

  private async heartbeat(): Promise<void> {
    const sentAt = performance.now();
    // Due one interval after the previous beat, as that beat said (a floor told since takes effect after this one).
    const lateMs = this.lastSentAt === undefined ? 0 : Math.max(0, sentAt - this.lastSentAt - this.lastSaidMs);
    this.lastSentAt = sentAt;
    this.lastSaidMs = this.intervalMs;
    try {
      const domains = await this.opts.domains();
      const req: HeartbeatRequest = {
        name: this.opts.nodeName,
        domains,
        bootId: this.bootId,
        seq: ++this.seq,
        libvirtUnavailable: this.opts.libvirtUnavailable?.() ?? "",
        // The next beat is already due after this interval (tick scheduled it): the scheduler times the silence by it.
        intervalMs: this.lastSaidMs,
      };
      if (this.opts.streamHeartbeats !== false && sentAt >= this.unaryUntil) {
        this.streamFor().write(req);
        this.opts.onBeatTimed?.({ lateMs });
        return;
      }
      const res = await this.call<HeartbeatRequest, HeartbeatResponse>("heartbeat", req);
      this.opts.onBeatTimed?.({ lateMs, callMs: performance.now() - sentAt });
      this.answered(res);
    } catch (err) {
      this.beatFailed(err, "Heartbeat failed");
    }
  }

  /**
   * Takes the scheduler's beat-rate floor. The beat already scheduled keeps its time: it says the
   * new interval, so the scheduler's timeout covers the longer silence before the agent keeps it.
   */
  private followFloor(floorMs: number): void {
    if (floorMs === this.floorMs) return;
    this.floorMs = floorMs;
    const before = this.intervalMs;
    this.intervalMs = beatIntervalMs(this.opts.heartbeatIntervalMs, this.registeredMs, floorMs);
    if (this.intervalMs !== before) this.opts.log?.(`heartbeat interval ${before} -> ${this.intervalMs} ms (the scheduler's beat-rate floor is ${floorMs} ms)`);
  }

  /** The interval this agent beats at now. */
  get heartbeatIntervalMs(): number {
    return this.intervalMs;
  }

  private answered(res: HeartbeatResponse): void {
    this.lastError = "";
    this.opts.onHeartbeat?.(res);
  }

  /** The open stream, or a new one (after an end, or a silence of several answers' worth). */
  private streamFor(): BeatStream {
    if (this.stream?.usable(QUIET_STREAM_MS + 3 * this.intervalMs)) return this.stream;
    // A stream silent that long may sit on a dead connection: the next one gets a fresh one.
    if (this.stream) this.reconnect();
    const stream: BeatStream = new BeatStream(this.client, {
      answer: (res, floorMs) => {
        this.followFloor(floorMs);
        this.answered(res);
      },
      failed: (err) => {
        if (this.stream === stream) this.stream = undefined;
        if (err.code === status.UNIMPLEMENTED) {
          // An older scheduler: Heartbeat calls for a while, this beat among them.
          if (this.unaryUntil === 0) this.opts.log?.("the scheduler lacks StreamHeartbeats; heartbeating with Heartbeat calls");
          this.unaryUntil = performance.now() + UNARY_RETRY_STREAM_MS;
          if (this.registered && !this.paused && !this.inFlight) this.schedule(0);
          return;
        }
        this.beatFailed(err, "Heartbeat stream ended");
      },
    });
    this.stream = stream;
    return stream;
  }

  private beatFailed(err: unknown, what: string): void {
    if ((err as ServiceError).code === status.NOT_FOUND) {
      this.opts.onError?.(err);
      if (!this.registered || this.stopped) return;
      // The scheduler forgot us (restart, or it removed the node): announce again now.
      this.opts.log?.("scheduler does not know this node; registering again");
      this.registered = false;
      if (!this.paused && !this.inFlight) this.schedule(0);
      return;
    }
    this.warn(what, err);
  }

  // Logs a failure once per distinct message, so an outage doesn't flood the log.
  private warn(what: string, err: unknown): void {
    this.opts.onError?.(err);
    const msg = `${what}: ${(err as Error).message}`;
    const key = `${what.split(" (")[0]}: ${(err as Error).message}`;
    if (key !== this.lastError) this.opts.log?.(msg);
    this.lastError = key;
  }

  private call<Req, Res>(method: "registerNode" | "heartbeat", req: Req): Promise<Res> {
    const deadline = new Date(Date.now() + (this.opts.callTimeoutMs ?? 5000));
    type Unary = (r: Req, md: Metadata, o: Partial<CallOptions>, cb: (e: ServiceError | null, res: Res) => void) => void;
    const fn = this.client[method] as unknown as Unary;
    return new Promise((resolve, reject) => {
      fn.call(this.client, req, new Metadata(), { deadline }, (e, res) => (e ? reject(e) : resolve(res)));
    });
  }
}
