// Postgres array literals built by hand for the bulk insert's parameters (sent as one text each,
// cast in SQL). postgres.js escapes every element of an array parameter with two regular
// expressions, which was ~35 ms of a 10,000-VM create; most elements here need no quoting.

/** Characters an unquoted array element may hold (no quote, backslash, brace, comma or space). */
const PLAIN = /^[A-Za-z0-9_.:@+-]+$/;

/** A text[] literal: elements quoted only where they must be; `null` is SQL NULL. */
export function textArrayLiteral(values: readonly (string | null)[]): string {
  let out = "{";
  let first = true;
  for (const v of values) {
    if (!first) out += ",";
    first = false;
    if (v === null) out += "NULL";
    else if (PLAIN.test(v) && v.toUpperCase() !== "NULL") out += v;
    else out += `"${v.replace(/[\\"]/g, "\\$&")}"`;
  }
  return out + "}";
}

/** A literal of numbers or UUIDs (elements that never need quoting). */
export function plainArrayLiteral(values: readonly (number | string)[]): string {
  return `{${values.join(",")}}`;
}
