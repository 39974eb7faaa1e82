// VM ids in creation order (RFC 9562 UUIDv7). A VM's id is its row's primary key and the last
// column of vms_created_idx and vms_project_created_idx, whose bulk rows share one created_at:
// random (v4) ids land all over those btrees, ordered ids append at their right edge, which
// Postgres inserts into without a descent from the root and splits 90/10 instead of 50/50. On
// a 10,000-VM insert that was ~100 ms of Postgres CPU (docs/benchmarks.md, "Bulk CreateVms
// toward 50,000/s"). The ids stay unguessable (62 random bits each) and are still plain UUIDs
// (libvirt domain UUIDs, API ids). Their first 8 hex digits repeat for ~65 s, so nothing may take
// them for unique: agents name domains by the whole id and guests by its random tail (domain-xml.ts).
import { randomUUID } from "node:crypto";

let lastMs = 0;
let counter = 0;

/**
 * A new UUIDv7: 48 bits of Unix milliseconds, the version, a 12-bit counter that keeps ids of one
 * millisecond in order (on overflow the time part moves on a millisecond, as RFC 9562 allows), and
 * the variant and 62 random bits of a v4 UUID. Each id this process makes sorts after the last one.
 */
export function newVmId(now = Date.now()): string {
  if (now > lastMs) {
    lastMs = now;
    counter = 0;
  } else if (++counter > 0xfff) {
    lastMs++;
    counter = 0;
  }
  const time = lastMs.toString(16).padStart(12, "0");
  // randomUUID's last two groups: the variant bits and 62 random ones.
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${counter.toString(16).padStart(3, "0")}-${randomUUID().slice(19)}`;
}
