import { findToken, TOKEN_REVOKED_CHANNEL, type Sql } from "@drover/store";

type Row = NonNullable<Awaited<ReturnType<typeof findToken>>>;

/** How long a token row read is used: the bound on a revocation's delay when a notification is lost. */
export const TOKEN_CACHE_TTL_MS = 2000;
/** Ids kept at most (cleared when full): tokens are few; this bounds what a caller can make us hold. */
const MAX_ENTRIES = 10_000;

/**
 * Token rows by id, so an authenticated call does not read its token row each time (a round trip
 * and ~10 % of a single CreateVm's scheduler CPU, docs/benchmarks.md). Revocation stays prompt on
 * every replica: revokeToken notifies TOKEN_REVOKED_CHANNEL in its own statement (delivered at
 * commit) and every replica listening drops that id at once. A row is used at most
 * TOKEN_CACHE_TTL_MS after it was read, so a revocation whose notification was lost (the listening
 * connection was down) holds within that time. Until the listener is up, nothing is cached.
 * Unknown ids are never cached, so a token created later is found at once; nor are tokens with an
 * expiry, whose `expired` is judged by the database's clock on every read.
 */
export class TokenCache {
  private readonly rows = new Map<string, { token: Row; readAt: number }>();
  private listening = false;
  /** Bumped on every revocation heard: a read that started before one is not kept. */
  private epoch = 0;
  /** Called with each revocation heard from any replica (the open streams of that token end). */
  onRevoked: (id: string) => void = () => {};

  constructor(
    private readonly sql: Sql,
    private readonly ttlMs = TOKEN_CACHE_TTL_MS,
  ) {}

  /** Starts listening for revocations; the cache is used once the listener is up (and emptied on every reconnect). */
  async start(): Promise<void> {
    await this.sql.listen(
      TOKEN_REVOKED_CHANNEL,
      (id) => {
        this.forget(id);
        this.onRevoked(id);
      },
      () => {
        this.rows.clear();
        this.epoch++;
        this.listening = true;
      },
    );
  }

  /** The token by id, revoked or not, as findToken: from the cache when read within the TTL. */
  async find(id: string): Promise<Row | null> {
    if (!this.listening) return findToken(this.sql, id);
    const hit = this.rows.get(id);
    const now = performance.now();
    if (hit && now - hit.readAt < this.ttlMs) return hit.token;
    const epoch = this.epoch;
    const token = await findToken(this.sql, id);
    if (token && token.expiresAt === null && epoch === this.epoch) {
      if (this.rows.size >= MAX_ENTRIES) this.rows.clear();
      this.rows.set(id, { token, readAt: now });
    }
    return token;
  }

  /** Drops a token's row (revoked here or on another replica). */
  forget(id: string): void {
    this.epoch++;
    this.rows.delete(id);
  }
}
