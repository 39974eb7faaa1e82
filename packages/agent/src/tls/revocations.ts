// The revoked serials the scheduler last told us (RegisterNode and Heartbeat answers carry the
// complete list). AgentService refuses calls from those certificates, and the registration
// channel refuses a scheduler that presents one. Kept in the TLS dir, so a restarted agent
// refuses them before it reaches the scheduler again.
import { existsSync, readFileSync } from "node:fs";
import { inDir, normalizeSerial, writeSecret } from "@drover/pki";

const FILE = "revoked-serials.json";

export class Revocations {
  private serials: Set<string>;

  constructor(
    private readonly tlsDir: string,
    private readonly log: (m: string) => void,
  ) {
    this.serials = new Set(load(inDir(tlsDir, FILE)));
  }

  has(serial: string): boolean {
    return this.serials.has(normalizeSerial(serial));
  }

  get size(): number {
    return this.serials.size;
  }

  /** Takes the scheduler's complete list; saved when it changed. */
  replace(list: string[]): void {
    const next = new Set(list.map(normalizeSerial));
    if (next.size === this.serials.size && [...next].every((s) => this.serials.has(s))) return;
    const added = [...next].filter((s) => !this.serials.has(s));
    this.serials = next;
    if (added.length) this.log(`tls: the scheduler revoked certificate(s) ${added.join(", ")}; refusing them`);
    try {
      writeSecret(inDir(this.tlsDir, FILE), JSON.stringify([...next]), 0o644);
    } catch (err) {
      this.log(`tls: could not save the revoked serials: ${(err as Error).message}`);
    }
  }
}

function load(file: string): string[] {
  if (!existsSync(file)) return [];
  try {
    const v: unknown = JSON.parse(readFileSync(file, "utf8"));
    return Array.isArray(v) ? v.filter((s): s is string => typeof s === "string").map(normalizeSerial) : [];
  } catch {
    return [];
  }
}
