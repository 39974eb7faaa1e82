// The revoked serials every RegisterNode and Heartbeat answer carries to agents (they refuse
// AgentService calls from those certificates). Read from the database at most once per
// REFRESH_MS however many nodes beat, so a revocation reaches every agent within about a
// heartbeat interval plus REFRESH_MS. A replica that finds its own certificate among them
// takes a new one at once.
import { revokedSerials, type Db } from "@drover/store";
import type { SchedulerIdentity } from "./scheduler-identity.js";

const REFRESH_MS = 2000;

export class RevokedSerials {
  private cached: { at: number; serials: Promise<string[]> } | undefined;

  constructor(
    private readonly db: Db,
    private readonly identity: SchedulerIdentity | undefined,
    private readonly log: (m: string) => void,
    private readonly refreshMs = REFRESH_MS,
  ) {}

  /** The current list; none in insecure mode (agents then check no certificates at all). */
  list(): Promise<string[]> {
    if (!this.identity) return Promise.resolve([]);
    const now = Date.now();
    if (!this.cached || now - this.cached.at >= this.refreshMs) {
      const serials = revokedSerials(this.db).then((s) => (this.checkOwn(s), s));
      // A failed read is not kept: the next caller tries again.
      serials.catch(() => (this.cached = undefined));
      this.cached = { at: now, serials };
    }
    return this.cached.serials;
  }

  private checkOwn(serials: string[]): void {
    const own = this.identity!.current.serial;
    if (!serials.includes(own)) return;
    this.log(`tls: this scheduler's certificate ${own} was revoked; issuing a new one`);
    void this.identity!.renewNow();
  }
}
