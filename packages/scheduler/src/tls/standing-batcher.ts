import { certificateStandings, type CertificateStanding, type Sql } from "@drover/store";

/** How long the first check of a batch waits for others (a heartbeat's own batch waits 20 ms more). */
export const STANDING_LINGER_MS = 2;

interface Waiting {
  serial: string;
  nodeName: string;
  resolve(s: CertificateStanding): void;
  reject(err: unknown): void;
}

/**
 * Group lookup of node certificates' standing (revoked or not, issued here or not): every
 * NodeRegistryService call checks its certificate against the database before it writes anything,
 * and the checks that arrive within {@link STANDING_LINGER_MS} share one query. A revocation is
 * thus seen by the next call on any replica, as with one query per call, at a fraction of the cost
 * at thousands of heartbeats a second.
 */
export class StandingBatcher {
  private queue: Waiting[] = [];

  constructor(
    private readonly sql: Sql,
    private readonly lingerMs = STANDING_LINGER_MS,
  ) {}

  check(serial: string, nodeName: string): Promise<CertificateStanding> {
    return new Promise((resolve, reject) => {
      this.queue.push({ serial, nodeName, resolve, reject });
      if (this.queue.length === 1) setTimeout(() => void this.flush(), this.lingerMs);
    });
  }

  private async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    try {
      const standings = await certificateStandings(this.sql, batch);
      for (const w of batch) w.resolve(standings.get(`${w.serial} ${w.nodeName}`) ?? "unknown");
    } catch (err) {
      for (const w of batch) w.reject(err);
    }
  }
}
