import type { Timestamp } from "@drover/proto";

/** The Date of a wire Timestamp (milliseconds; for ages and comparisons). */
export const dateOf = (t: Timestamp | undefined): Date | undefined => (t ? new Date(t.seconds * 1000 + Math.floor(t.nanos / 1e6)) : undefined);

/** ISO 8601 in UTC with the microseconds the scheduler keeps, e.g. 2026-12-01T09:10:00.123456Z. */
export function isoOf(t: Timestamp | undefined): string | undefined {
  const d = dateOf(t);
  if (!d || !t) return undefined;
  const micros = String(Math.floor(t.nanos / 1000) % 1000).padStart(3, "0");
  return d.toISOString().replace(/Z$/, `${micros}Z`);
}
