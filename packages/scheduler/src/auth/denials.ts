// drover.audit.denied: refused calls (no, bad, revoked or expired token; a
// missing role) in the audit trail, bounded so a flood cannot fill the outbox.
// Per replica and window, the first `perWindow` refusals are written one each;
// later ones are folded into one record per (method, result) with `count`,
// written when the window ends. So a window writes at most perWindow records
// plus one per method and result that was refused past the limit (MAX_KEYS).
import type { AuditEntry } from "@drover/store";

export interface Denial {
  /** Full gRPC method. */
  method: string;
  /** The caller's address (call.getPeer()). */
  peer: string;
  /** UNAUTHENTICATED or PERMISSION_DENIED. */
  result: "UNAUTHENTICATED" | "PERMISSION_DENIED";
  message: string;
  /** Known when the token was recognized (a missing role, a revoked or expired token). */
  tokenId?: string | undefined;
  role?: string | undefined;
  project?: string | undefined;
}

export interface DenialLimits {
  /** Records written one by one per window. */
  perWindow: number;
  windowMs: number;
}

export const DEFAULT_DENIAL_LIMITS: DenialLimits = { perWindow: 20, windowMs: 10_000 };

/** Folded keys per window beyond which every further refusal goes into one "*" record. */
const MAX_KEYS = 64;

export class DenialLog {
  private windowStart = 0;
  private written = 0;
  private folded = new Map<string, { denial: Denial; count: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly write: (entries: AuditEntry[]) => Promise<void>,
    private readonly log: (m: string) => void,
    private readonly limits: DenialLimits = DEFAULT_DENIAL_LIMITS,
    private readonly now: () => number = Date.now,
    /** Counts each refusal as recorded one by one or folded (drover_audit_denials_total). */
    private readonly count: (record: "single" | "folded") => void = () => {},
  ) {}

  /** Records a refusal (never throws, never waits: the refused call answers at once). */
  note(d: Denial): void {
    const t = this.now();
    if (t - this.windowStart >= this.limits.windowMs) {
      this.flush();
      this.windowStart = t;
      this.written = 0;
    }
    if (this.written < this.limits.perWindow) {
      this.written++;
      this.count("single");
      this.send([entryOf(d, 1)]);
      return;
    }
    this.count("folded");
    let key = `${d.method} ${d.result}`;
    if (!this.folded.has(key) && this.folded.size >= MAX_KEYS) key = "*";
    const f = this.folded.get(key);
    if (f) f.count++;
    else this.folded.set(key, { denial: key === "*" ? { ...d, method: "*", tokenId: "", role: "", project: "", peer: "*" } : d, count: 1 });
    // The folded records go out when the window ends, even if no refusal follows.
    this.timer ??= setTimeout(() => this.flush(), this.windowStart + this.limits.windowMs - t).unref();
  }

  /** Writes what is folded now (at the window's end, and at shutdown). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.folded.size === 0) return;
    const entries = [...this.folded.values()].map((f) =>
      entryOf({ ...f.denial, message: `${f.count} refusals like this one past the first ${this.limits.perWindow} of a ${this.limits.windowMs / 1000} s window; the last: ${f.denial.message}` }, f.count),
    );
    this.folded = new Map();
    this.send(entries);
  }

  private send(entries: AuditEntry[]): void {
    this.write(entries).catch((err: unknown) => this.log(`audit: could not record ${entries.length} refused call(s): ${err instanceof Error ? err.message : String(err)}`));
  }
}

function entryOf(d: Denial, count: number): AuditEntry {
  return {
    verb: "denied",
    tokenId: d.tokenId ?? "",
    role: d.role ?? "",
    project: d.project ?? "",
    method: d.method,
    target: "",
    result: d.result,
    message: d.message,
    peer: d.peer,
    count,
  };
}
