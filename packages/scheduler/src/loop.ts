/**
 * Runs `tick` every `periodMs` until stopped, one tick at a time; wake() runs
 * the next tick at once. Errors are reported and the loop goes on, so a
 * database blip never stops a background job.
 */
export class Loop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private again = false;

  constructor(
    readonly name: string,
    private readonly periodMs: number,
    private readonly tick: () => Promise<void>,
    private readonly onError: (name: string, err: unknown) => void,
  ) {}

  start(): void {
    this.schedule(0);
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.schedule(0);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), ms);
  }

  private async run(): Promise<void> {
    if (this.stopped || this.running) return;
    this.running = this.tick().catch((err) => this.onError(this.name, err));
    await this.running;
    this.running = undefined;
    if (this.stopped) return;
    this.schedule(this.again ? 0 : this.periodMs);
    this.again = false;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
