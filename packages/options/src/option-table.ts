// A program's configuration, every option declared once (as in Nova's nova/conf): parsing,
// defaults, --help, the README tables and the example env files all come from the table.
// The scheduler and the agent both build their tables from this package.

/** One unit per kind of quantity, in both programs. */
export type Unit = "ms" | "MiB" | "GiB";

/** One setting: where it is read from, what it accepts, its default and its help. */
export interface Option<T> {
  /** Environment variable. */
  env: string;
  /** Command-line flag (the agent has them); a flag wins over the variable. */
  flag?: string;
  /** What the value is, for --help and errors: "integer", "host:port", "URL". */
  type: string;
  /** Unit of a quantity: ms for durations, MiB for memory, GiB for disk. */
  unit?: Unit;
  /** Allowed values, as people read them: "10..60000", "spread or pack". */
  range?: string;
  /** Built-in value; undefined when it is worked out at start (then defaultText says how). */
  default: T | undefined;
  /** The default in words, when it is not a literal value. */
  defaultText?: string;
  help: string;
  /** An empty value means this value (e.g. "" disables NATS), not the default. */
  emptyIsValue?: boolean;
  /** Former names, still read with a warning. */
  deprecated?: readonly DeprecatedName[];
  /** Turns the (trimmed) text into the value; throws an Error saying what was expected. */
  parse(text: string): T;
  /** The value as text, for env files and docs; String(value) when absent. */
  show?(value: T): string;
}

export interface DeprecatedName {
  env: string;
  flag?: string;
  /** Rewrites a value in the old unit into the new one (e.g. seconds to ms); throws on bad input. */
  convert?(text: string): string;
  /** What the old name measured, for the docs: "seconds". */
  unit?: string;
}

/** One option per config field: a forgotten or misspelt field is a compile error. */
export type OptionTable<C> = {
  [K in keyof C]-?: Option<NonNullable<C[K]>> & (undefined extends C[K] ? unknown : { default: NonNullable<C[K]> });
};

/** A bad value, naming where it came from, what it was and what is allowed. */
export class ConfigError extends Error {
  constructor(
    /** How the setting was given, e.g. "--heartbeat-ms (DROVER_HEARTBEAT_MS)". */
    readonly setting: string,
    readonly value: string,
    readonly expected: string,
    /** How a deprecated name's value was converted, e.g. "read as 0 ms". */
    readonly note?: string,
    options?: ErrorOptions,
  ) {
    super(`${setting}=${JSON.stringify(value)}${note ? ` (${note})` : ""}: ${expected}`, options);
    this.name = "ConfigError";
  }
}

export type Warn = (message: string) => void;

const warned = new Set<string>();
/** Writes each distinct warning to stderr once per process. */
export const warnOnceToStderr =
  (program: string): Warn =>
  (message) => {
    if (warned.has(message)) return;
    warned.add(message);
    process.stderr.write(`${program}: warning: ${message}\n`);
  };

/** The table's built-in values (options whose default is worked out at start are left out). */
export function defaultsOf<C>(table: OptionTable<C>): C {
  const out: Record<string, unknown> = {};
  for (const [key, option] of entries(table)) if (option.default !== undefined) out[key] = option.default;
  return out as C;
}

/** The default as TSDoc `@default` writes it: the value as JSON, or its words. */
export function tsdocDefault(option: Option<unknown>): string {
  return option.default === undefined ? (option.defaultText ?? "") : JSON.stringify(option.default);
}

/** The default for people: its words, or the value as text (`literal`), "empty" for "". */
export function docsDefault(option: Option<unknown>): { text: string; literal: boolean } {
  if (option.defaultText !== undefined) return { text: option.defaultText, literal: false };
  const text = defaultAsText(option);
  return text === "" ? { text: "empty", literal: false } : { text, literal: true };
}

/** The default as an env-file value: empty when it is worked out at start. */
export function defaultAsText(option: Option<unknown>): string {
  if (option.default === undefined) return "";
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- defaults without show() are strings, numbers, booleans
  return option.show ? option.show(option.default) : String(option.default);
}

/** "integer 1000..3600000 ms" — type, range and unit in one phrase. */
export function allowedText(option: Option<unknown>): string {
  return [option.type, option.range, option.unit].filter(Boolean).join(" ");
}

export function entries<C>(table: OptionTable<C>): [string, Option<unknown>][] {
  return Object.entries(table);
}

interface Given {
  text: string;
  /** How it was given, for errors: flag or variable, with the other name in brackets. */
  setting: string;
  /** The value as given, when a deprecated name's value was converted. */
  original?: string;
}

/**
 * Reads every option: flag, then variable, then their deprecated names (each deprecated name
 * in use is warned about); unset or empty keeps the default. Throws ConfigError on a bad value.
 */
export function readOptions<C>(
  table: OptionTable<C>,
  env: Record<string, string | undefined>,
  flags: Record<string, string> = {},
  warn: Warn = () => {},
): C {
  const out: Record<string, unknown> = {};
  for (const [key, option] of entries(table)) {
    const given = find(option, env, flags, warn);
    if (given === undefined) {
      if (option.default !== undefined) out[key] = option.default;
      continue;
    }
    try {
      out[key] = option.parse(given.text);
    } catch (err) {
      const note = given.original === undefined ? undefined : `read as ${given.text} ${option.unit ?? ""}`.trimEnd();
      throw new ConfigError(given.setting, given.original ?? given.text, (err as Error).message, note, { cause: err });
    }
  }
  return out as C;
}

function find(option: Option<unknown>, env: Record<string, string | undefined>, flags: Record<string, string>, warn: Warn): Given | undefined {
  const usable = (raw: string | undefined): string | undefined => {
    const text = raw?.trim();
    return text === undefined || (text === "" && !option.emptyIsValue) ? undefined : text;
  };
  const both = option.flag ? `${option.env} / ${option.flag}` : option.env;
  const flag = option.flag ? usable(flags[option.flag]) : undefined;
  if (flag !== undefined) return { text: flag, setting: `${option.flag} (${option.env})` };
  const value = usable(env[option.env]);
  if (value !== undefined) return { text: value, setting: option.flag ? `${option.env} (${option.flag})` : option.env };
  for (const old of option.deprecated ?? []) {
    const fromFlag = old.flag ? usable(flags[old.flag]) : undefined;
    const name = fromFlag !== undefined ? old.flag! : old.env;
    const text = fromFlag ?? usable(env[old.env]);
    if (text === undefined) continue;
    warn(`${name} is deprecated and will be removed: use ${both}${old.unit ? ` (in ${option.unit}, not ${old.unit})` : ""}`);
    const setting = `${name} (deprecated name of ${both})`;
    if (!old.convert) return { text, setting };
    try {
      return { text: old.convert(text), setting, original: text };
    } catch (err) {
      throw new ConfigError(setting, text, (err as Error).message, undefined, { cause: err });
    }
  }
  return undefined;
}

/** Splits `--flag value` and `--flag=value` arguments by the table's flags (deprecated ones too). */
export function readFlags<C>(table: OptionTable<C>, argv: readonly string[], usage: string): Record<string, string> {
  const known = new Set<string>();
  for (const [, option] of entries(table)) {
    if (option.flag) known.add(option.flag);
    for (const old of option.deprecated ?? []) if (old.flag) known.add(old.flag);
  }
  const flags: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    if (!known.has(flag)) throw new Error(`unknown argument ${JSON.stringify(arg)}\n${usage}`);
    const value = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new Error(`${flag} needs a value\n${usage}`);
    flags[flag] = value;
  }
  return flags;
}

/** --help text: one paragraph per option, wrapped to `width` columns. */
export function formatHelp<C>(table: OptionTable<C>, heading: string, width = 100): string {
  const lines = [heading];
  for (const [, option] of entries(table)) {
    lines.push("", `  ${option.flag ? `${option.flag} <${option.type}>, ${option.env}` : option.env}`);
    const facts = [allowedText(option), `default: ${docsDefault(option).text}`];
    for (const old of option.deprecated ?? []) {
      facts.push(`deprecated name: ${[old.env, old.flag].filter(Boolean).join(" / ")}${old.unit ? ` (in ${old.unit})` : ""}`);
    }
    lines.push(...wrap(`${option.help} (${facts.join("; ")})`, width - 6).map((l) => `      ${l}`));
  }
  return lines.join("\n");
}

export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(line);
  return lines;
}
