import type { Sql } from "@drover/store";

/** How often the database is probed. */
export const STORE_PROBE_MS = 500;
/**
 * How long a probe may wait before it counts as a failure (a database that hangs rather than
 * refuses). Long, because under load the probe queues for a pooled connection like any query.
 */
export const STORE_PROBE_TIMEOUT_MS = 10_000;

/**
 * gRPC health follows the database: a probe (`SELECT 1`) that fails or hangs
 * turns the services NOT_SERVING, the next that succeeds turns them SERVING
 * again, so load balancers and clients see an outage and its end without a
 * restart. One probe at a time: a hung database gets no pile of probes.
 */
export class StoreHealth {
  private serving = true;
  private pending: Promise<unknown> | undefined;

  constructor(
    private readonly sql: Sql,
    private readonly setServing: (serving: boolean) => void,
    private readonly stopping: () => boolean,
    private readonly log: (m: string) => void,
    private readonly timeoutMs = STORE_PROBE_TIMEOUT_MS,
  ) {}

  /** One probe; never throws (the Loop runs it every STORE_PROBE_MS). */
  async probe(): Promise<void> {
    const probe = (this.pending ??= this.sql`SELECT 1`.then(
      () => true,
      (err: unknown) => err,
    ));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer in ${this.timeoutMs} ms`), this.timeoutMs)));
    const outcome = await Promise.race([probe, timedOut]);
    clearTimeout(timer);
    // A probe that outlived its timeout stays pending (the next tick waits on it, starting none); settled, it is done.
    if (typeof outcome !== "string") this.pending = undefined;
    else void probe.finally(() => this.pending === probe && (this.pending = undefined));
    this.update(outcome === true, outcome);
  }

  private update(ok: boolean, outcome: unknown): void {
    if (this.stopping() || ok === this.serving) return;
    this.serving = ok;
    this.setServing(ok);
    const why = typeof outcome === "string" ? outcome : outcome instanceof Error ? ((outcome as { code?: string }).code ?? outcome.name) : "";
    this.log(ok ? "database reachable again: health SERVING" : `database unreachable (${why}): health NOT_SERVING`);
  }
}
