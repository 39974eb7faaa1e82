// Value kinds for option tables: each gives an option its type, its range and its parser,
// so the range in --help and in the error is the one the parser checks.
// The same file is in packages/agent and packages/scheduler; test/docs/option-table-copies.test.ts keeps them identical.

import type { Unit } from "./option-table.js";

interface Kind<T> {
  type: string;
  unit?: Unit;
  range?: string;
  parse(text: string): T;
}

/** A whole number in min..max. */
export function integer(min: number, max: number, unit?: Unit): Kind<number> {
  const expected = `expected an integer from ${min} to ${max}${unit ? ` (${unit})` : ""}`;
  return {
    type: "integer",
    range: `${min}..${max}`,
    ...(unit ? { unit } : {}),
    parse(text) {
      const n = Number(text);
      if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) throw new Error(expected);
      return n;
    },
  };
}

/** A decimal number in min..max. */
export function decimal(min: number, max: number): Kind<number> {
  return {
    type: "number",
    range: `${min}..${max}`,
    parse(text) {
      const n = Number(text);
      if (text === "" || !Number.isFinite(n) || n < min || n > max) throw new Error(`expected a number from ${min} to ${max}`);
      return n;
    },
  };
}

/** One of a fixed set of words. */
export function choice<T extends string>(values: readonly T[]): Kind<T> {
  const listed = values.length === 2 ? values.join(" or ") : values.join(", ");
  return {
    type: values.join("|"),
    parse(text) {
      if (!(values as readonly string[]).includes(text)) throw new Error(`expected ${listed}`);
      return text as T;
    },
  };
}

/** Free text, optionally checked: `check` throws an Error saying what was expected. */
export function text(type: string, check?: (value: string) => void): Kind<string> {
  return {
    type,
    parse(value) {
      check?.(value);
      return value;
    },
  };
}

/** host:port (IPv6 as [::1]:port); port 0 picks a free one. */
export const hostPort: Kind<string> = text("host:port", (value) => {
  parseHostPort(value);
});

/** Splits "host:port" (IPv6 as "[::1]:port"); throws saying what is expected. */
export function parseHostPort(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new Error("expected host:port (e.g. 127.0.0.1:7401 or [::1]:7401)");
  return { host: m[1] ?? m[2] ?? "", port };
}

const MS_PER = { seconds: 1000, hours: 3_600_000 } as const;

/** For a deprecated name that took seconds or hours: rewrites its value into milliseconds. */
export function givenIn(unit: keyof typeof MS_PER): { unit: string; convert(text: string): string } {
  return {
    unit,
    convert(value) {
      const n = Number(value);
      if (value === "" || !Number.isFinite(n) || n < 0) throw new Error(`expected a number of ${unit}`);
      return String(Math.round(n * MS_PER[unit]));
    },
  };
}
