import { insertAuditEvents, type AuditEntry, type Sql } from "@drover/store";

/**
 * Group commit for audit events: entries that arrive while a write is in
 * flight go together in the next one, so a burst of mutating calls costs one
 * statement per batch rather than one per call. A call answers only after its
 * entry is written.
 */
export class AuditLog {
  private queue: { entry: AuditEntry; resolve(): void; reject(err: unknown): void }[] = [];
  private running = false;

  constructor(private readonly sql: Sql) {}

  record(entry: AuditEntry): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, 500);
        await insertAuditEvents(
          this.sql,
          batch.map((w) => w.entry),
        ).then(
          () => batch.forEach((w) => w.resolve()),
          (err: unknown) => batch.forEach((w) => w.reject(err)),
        );
      }
    } finally {
      this.running = false;
    }
  }
}
