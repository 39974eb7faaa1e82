// Open StreamHeartbeats streams by the certificate that opened them. A stream is authorized once,
// when it opens, so something must end it when its certificate stops holding: one sweep per
// replica compares the open streams with the revoked serials (RevokedSerials reads them at most
// every 2 s, whatever the number of streams) and their expiry, and ends those that no longer hold
// with UNAUTHENTICATED. The same sweep hands every other stream a changed revoked list, which
// agents need in time to refuse a revoked scheduler.
import { normalizeSerial } from "@drover/pki";
import type { NodeIdentityError } from "../errors.js";

/** How often a replica checks its open heartbeat streams' certificates. */
export const NODE_STREAM_SWEEP_MS = 1000;

export interface NodeStream {
  node: string;
  /** The certificate's serial (normalized) and expiry; absent in insecure mode. */
  serial?: string;
  notAfter?: Date;
  /** Ends the stream with this refusal. */
  end(err: NodeIdentityError): void;
  /** Ends the stream with UNAVAILABLE: this replica stops. */
  shutdown(): void;
  /** The revoked list changed: the complete new one. */
  revokedChanged(serials: string[]): void;
}

export interface NodeStreamRefusals {
  revoked(serial: string, node: string): NodeIdentityError;
  expired(serial: string, node: string): NodeIdentityError;
}

export class NodeStreams {
  private readonly open = new Set<NodeStream>();
  private lastList = "";
  /** Set by endAll: the replica stops, and a stream opened after that ends at once. */
  private closed = false;

  constructor(
    private readonly revokedSerials: () => Promise<string[]>,
    private readonly refusals: NodeStreamRefusals,
    /** Told the number of open streams after each change (a gauge). */
    private readonly onSize: (n: number) => void = () => {},
  ) {}

  /** Tracks a stream until the returned release is called. */
  add(stream: NodeStream): () => void {
    if (this.closed) {
      // An agent reopening its stream while this replica drains: until the server shuts down it
      // accepts calls, and an open stream would hold that shutdown for ever.
      stream.shutdown();
      return () => {};
    }
    this.open.add(stream);
    this.onSize(this.open.size);
    return () => {
      if (this.open.delete(stream)) this.onSize(this.open.size);
    };
  }

  get size(): number {
    return this.open.size;
  }

  /** Ends the streams of revoked or expired certificates; tells the others a changed revoked list. */
  async sweep(now = Date.now()): Promise<void> {
    if (this.open.size === 0) return;
    const list = await this.revokedSerials();
    const revoked = new Set(list.map(normalizeSerial));
    const key = list.join(",");
    const changed = key !== this.lastList;
    this.lastList = key;
    for (const s of [...this.open]) {
      if (s.serial !== undefined && revoked.has(s.serial)) s.end(this.refusals.revoked(s.serial, s.node));
      else if (s.serial !== undefined && s.notAfter !== undefined && !(s.notAfter.getTime() > now)) s.end(this.refusals.expired(s.serial, s.node));
      else if (changed) s.revokedChanged(list);
    }
  }

  /** Ends every stream, now and from now on (the replica stops): agents open a new one, on another replica if there is one. */
  endAll(): void {
    this.closed = true;
    for (const s of [...this.open]) s.shutdown();
  }
}
