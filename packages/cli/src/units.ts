// Size parsing for command-line flags. Sizes are binary: 1G = 1024 MiB.

/** Size units and how many MiB each is. Matching is case-insensitive. */
const MIB_PER_UNIT: Record<string, number> = {
  m: 1,
  mb: 1,
  mib: 1,
  g: 1024,
  gb: 1024,
  gib: 1024,
  t: 1024 * 1024,
  tb: 1024 * 1024,
  tib: 1024 * 1024,
};

const SIZE_RE = /^(\d+(?:\.\d+)?)([a-z]*)$/i;

/**
 * Parses a size into a whole number of `target` units ("M" = MiB, "G" = GiB).
 * A bare number is in `plain` units. Throws an Error whose message states the rule.
 */
export function parseSize(input: string, plain: "M" | "G", target: "M" | "G"): number {
  const text = input.trim();
  const m = SIZE_RE.exec(text);
  if (!m) {
    throw new Error(`invalid size "${input}": expected a number with an optional unit M, G or T (e.g. ${plain === "M" ? "512M or 4G" : "20G or 1T"})`);
  }
  const unit = (m[2] ?? "").toLowerCase();
  const perUnit = unit === "" ? MIB_PER_UNIT[plain.toLowerCase()] : MIB_PER_UNIT[unit];
  if (perUnit === undefined) {
    throw new Error(`invalid size "${input}": unknown unit "${m[2]}"; use M, G or T`);
  }
  const mib = Number(m[1]) * perUnit;
  const value = mib / (MIB_PER_UNIT[target.toLowerCase()] ?? 1);
  const rounded = Math.round(value);
  if (Math.abs(value - rounded) > 1e-9) {
    throw new Error(`invalid size "${input}": must be a whole number of ${target === "M" ? "MiB" : "GiB"}`);
  }
  if (!Number.isSafeInteger(rounded)) {
    throw new Error(`invalid size "${input}": too large`);
  }
  return rounded;
}

/** Memory: plain numbers are MiB; 512M, 4G, 1.5G, 1T are accepted. Returns MiB. */
export function parseMemoryMiB(input: string): number {
  return parseSize(input, "M", "M");
}

/** Disk: plain numbers are GiB; 20G, 1T, 2048M are accepted. Returns GiB. */
export function parseDiskGiB(input: string): number {
  return parseSize(input, "G", "G");
}

/** A whole number in [min, max]; throws an Error stating the rule. */
export function parseCount(input: string, min: number, max = 0xffffffff): number {
  const text = input.trim();
  if (!/^\d+$/.test(text)) {
    throw new Error(`must be a whole number >= ${min}, got "${input}"`);
  }
  const n = Number(text);
  if (n < min || n > max) {
    throw new Error(`must be a whole number ${max === 0xffffffff || max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got ${n}`);
  }
  return n;
}

const SECONDS_PER_UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 7 * 86_400 };

/** A lifetime such as 90s, 30m, 12h, 30d or 2w; returns whole seconds (at least 1). */
export function parseDurationSeconds(input: string): number {
  const m = /^(\d+)([smhdw])$/i.exec(input.trim());
  if (!m) throw new Error(`invalid duration "${input}": expected a whole number with a unit s, m, h, d or w (e.g. 90s, 30m, 12h, 30d)`);
  const seconds = Number(m[1]) * SECONDS_PER_UNIT[m[2]!.toLowerCase()]!;
  if (seconds < 1) throw new Error(`invalid duration "${input}": must be at least 1s`);
  if (!Number.isSafeInteger(seconds)) throw new Error(`invalid duration "${input}": too large`);
  return seconds;
}
