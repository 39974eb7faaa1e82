// Open server streams by the token that opened them, so a revoked or expired
// token's streams end at once (UNAUTHENTICATED) instead of running on. One
// sweep per replica asks the database which of the open streams' tokens no
// longer hold (one indexed read, whatever the number of streams), so a
// revocation made on another replica reaches this one's streams within a sweep
// period; a revocation on this replica wakes the sweep at once.
import { endedTokens, type Sql } from "@drover/store";
import { UnauthenticatedError } from "../errors.js";
import { INSECURE_PRINCIPAL } from "./authenticate.js";
import type { Principal } from "./roles.js";

/** How often a replica checks its open streams' tokens. */
export const TOKEN_SWEEP_MS = 1000;

type End = (err: UnauthenticatedError) => void;

export class TokenStreams {
  private readonly open = new Map<string, Set<End>>();
  /** Set by the scheduler: runs the sweep now. */
  wake: () => void = () => {};

  constructor(private readonly sql: Sql) {}

  /** Calls `end` once when `who`'s token is revoked or expires; returns the release to call when the stream ends. */
  watch(who: Principal, end: End): () => void {
    if (who.tokenId === INSECURE_PRINCIPAL.tokenId) return () => {};
    let set = this.open.get(who.tokenId);
    if (!set) this.open.set(who.tokenId, (set = new Set()));
    set.add(end);
    return () => {
      set.delete(end);
      if (set.size === 0 && this.open.get(who.tokenId) === set) this.open.delete(who.tokenId);
    };
  }

  get size(): number {
    let n = 0;
    for (const s of this.open.values()) n += s.size;
    return n;
  }

  async sweep(): Promise<void> {
    if (this.open.size === 0) return;
    for (const t of await endedTokens(this.sql, [...this.open.keys()])) {
      const ends = this.open.get(t.id);
      if (!ends) continue;
      this.open.delete(t.id);
      const when = t.at ? ` at ${t.at.toISOString()}` : "";
      const message = t.why === "revoked" ? `token ${t.id} was revoked${when}` : t.why === "expired" ? `token expired: token ${t.id} expired${when}` : `token ${t.id} no longer exists`;
      for (const end of ends) end(new UnauthenticatedError(message));
    }
  }
}
