/**
 * What a stopping scheduler still waits on, and the end of its grace. A step that waits on
 * Postgres waits for ever when Postgres stops answering (frozen, or its host cut off without a
 * reset): twice a replica ignored SIGTERM for 60 s that way. So the open work (loops, agent
 * calls, open calls) is waited for until the grace ends, then onGraceOver() runs (the pools are
 * cut, so what waits on them fails and ends) and the steps after it go on.
 */
export class ShutdownSteps {
  /** Date.now() at which the grace ends. */
  readonly graceEndsAt: number;
  private readonly open = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly graceOver: Promise<void>;
  /** What was still open when the grace ended and onGraceOver() ran; undefined while it has not. */
  private cutOpen: string[] | undefined;

  constructor(
    graceMs: number,
    onGraceOver: (open: string[]) => void,
    startedAt = Date.now(),
  ) {
    this.graceEndsAt = startedAt + graceMs;
    let over = () => {};
    this.graceOver = new Promise<void>((resolve) => (over = resolve));
    this.timer = setTimeout(() => {
      this.cutOpen = this.stillOpen();
      onGraceOver(this.cutOpen);
      over();
    }, graceMs);
  }

  /** Waits for fn, logged as open meanwhile. */
  async step(name: string, fn: () => Promise<unknown> | void): Promise<void> {
    this.open.set(name, Date.now());
    try {
      await fn();
    } finally {
      this.open.delete(name);
    }
  }

  /** A step of open work: waited for until the grace ends, no longer (it stays listed as open). */
  async graceStep(name: string, fn: () => Promise<unknown>): Promise<void> {
    const work = this.step(name, fn);
    work.catch(() => {}); // a failure after the grace is nobody's to handle
    await Promise.race([work, this.graceOver]);
  }

  /** What is still being waited for, each with how long: "loop dispatcher (10.0 s)". */
  stillOpen(): string[] {
    const now = Date.now();
    return [...this.open].map(([name, since]) => `${name} (${((now - since) / 1000).toFixed(1)} s)`);
  }

  /**
   * The stop is over: no grace timer left to keep the process up. Answers what was still open
   * when the grace ended (the work onGraceOver() cut off), or undefined when it did not end.
   */
  done(): string[] | undefined {
    clearTimeout(this.timer);
    return this.cutOpen;
  }
}
