// Postgres keeps timestamps to the microsecond; a JS Date keeps milliseconds.
// Every timestamptz the store reads is a MicrosDate: a Date (so comparisons
// and arithmetic work as before) that also carries the microseconds within
// its millisecond, for the wire's Timestamp nanos.

export class MicrosDate extends Date {
  constructor(
    epochMs: number,
    /** Microseconds past epochMs, 0..999. */
    readonly micros: number,
  ) {
    super(epochMs);
  }
}

const FRACTION = /\.(\d+)/;

/** postgres.js parser for timestamptz text, e.g. "2026-12-01 09:10:00.123456+00". */
export function parseTimestamptz(text: string): Date {
  const fraction = FRACTION.exec(text);
  if (!fraction) return new MicrosDate(new Date(text).getTime(), 0);
  const digits = fraction[1]!.padEnd(6, "0");
  // Date gets only the milliseconds: engines differ on longer fractions.
  const ms = new Date(text.replace(FRACTION, `.${digits.slice(0, 3)}`)).getTime();
  return new MicrosDate(ms, Number(digits.slice(3, 6)));
}

/** Microseconds within the millisecond: a MicrosDate's, 0 for any other Date. */
export const microsOf = (d: Date): number => (d instanceof MicrosDate ? d.micros : 0);
