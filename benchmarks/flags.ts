// The benchmarks' command-line flags, parsed in one place: `--name V` and `--name=V` alike.
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** The value of `--name V` or `--name=V`; undefined when the flag is absent. */
export function flag(name: string, argv: readonly string[] = process.argv): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) {
    const value = argv[i + 1];
    if (value === undefined) throw new Error(`--${name}: needs a value`);
    return value;
  }
  return argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** `--name N`: a number ≥ 0 (> 0 when `positive`), `fallback` when absent; anything else fails, naming the flag. */
export function numberFlag(name: string, fallback: number, { positive = false } = {}): number {
  const text = flag(name);
  if (text === undefined) return fallback;
  const v = text.trim() === "" ? NaN : Number(text);
  if (!Number.isFinite(v) || v < 0 || (positive && v === 0)) throw new Error(`--${name}: not a ${positive ? "positive " : ""}number: ${text}`);
  return v;
}

/** argv without these flags and their values (either form): the rest, to pass on to another benchmark. */
export function withoutFlags(argv: readonly string[], names: readonly string[]): string[] {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (names.some((n) => a === `--${n}`)) i++;
    else if (!names.some((n) => a.startsWith(`--${n}=`))) rest.push(a);
  }
  return rest;
}

/** `--before DIR`, required: another checkout built with `npx tsc -b`, the "before" build of an ABBA run. */
export function requiredBeforeDir(): string {
  const dir = flag("before");
  if (!dir) throw new Error("--before=DIR: a checkout of the commit before, built with npx tsc -b");
  return dir;
}

/** A built module of the checkout at `dir`, e.g. `packages/store/dist/index.js`. */
export async function importBuilt<T>(dir: string, file: string): Promise<T> {
  return (await import(pathToFileURL(join(resolve(dir), file)).href)) as T;
}
