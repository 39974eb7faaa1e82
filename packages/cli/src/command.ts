// What every command gets: parsed flags, output settings, clients, and the error types run() maps to exit codes.
import type { ParseArgsConfig } from "node:util";
import type { CallSettings, Clients } from "./client.js";

export interface IO {
  stdout(s: string): void;
  stderr(s: string): void;
}

export type OutputFormat = "table" | "json";

export interface Context {
  io: IO;
  output: OutputFormat;
  addr: string;
  /** Per-call deadline for unary RPCs, in milliseconds. */
  timeoutMs: number;
  /** Aborted when the user interrupts (Ctrl-C): calls are cancelled, `events` stops. */
  signal?: AbortSignal;
  /** The gRPC clients, created on first use. */
  clients(): Clients;
}

export type Options = NonNullable<ParseArgsConfig["options"]>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** A leaf command such as `vm create` or `capacity`. */
export interface Command {
  name: string;
  summary: string;
  /** Full help text, printed for -h/--help. */
  usage: string;
  options: Options;
  /** Names of the required positional arguments, e.g. ["NAME"]. */
  args: string[];
  run(ctx: Context, args: string[], values: Values): Promise<number>;
}

/** A group of commands such as `vm` or `node`. */
export interface Group {
  name: string;
  summary: string;
  usage: string;
  commands: Command[];
}

/**
 * A group with its help built one way for every group: its commands and their summaries, where to
 * read a command's flags, `note` (a paragraph of the group's own, if any), and the global flags.
 */
export function group(g: Omit<Group, "usage"> & { note?: string }): Group {
  const width = Math.max(8, ...g.commands.map((c) => c.name.length));
  const lines = g.commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n");
  const note = g.note ? `\n\n${g.note}` : "";
  const usage = `Usage: drover ${g.name} COMMAND [flags]\n\nCommands:\n${lines}\n\nRun 'drover ${g.name} COMMAND --help' for a command's flags.${note}\n\n${GLOBAL_FLAGS_HELP}\n`;
  return { name: g.name, summary: g.summary, commands: g.commands, usage };
}

/** Bad command line: printed as `error: ...`, exit code 2. */
export class UsageError extends Error {
  constructor(
    message: string,
    /** Command path for the "see --help" hint, e.g. "vm create". */
    readonly command?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

export function strs(values: Values, name: string): string[] {
  const v = values[name];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === "string");
  return typeof v === "string" ? [v] : [];
}

export function bool(values: Values, name: string): boolean {
  return values[name] === true;
}

/** Runs `parse(value)`; an Error from it becomes a UsageError naming the flag. */
export function flag<T>(name: string, value: string, parse: (v: string) => T, command?: string): T {
  try {
    return parse(value);
  } catch (e) {
    throw new UsageError(`--${name}: ${(e as Error).message}`, command);
  }
}

/** A flag given as `--name VALUE`, parsed by `parse` (its Error becomes a UsageError naming the flag); undefined when not given. */
export function parsed<T>(values: Values, name: string, parse: (v: string) => T, command: string): T | undefined {
  const raw = str(values, name);
  return raw === undefined ? undefined : flag(name, raw, parse, command);
}

/** parsed(), for a flag the command cannot do without: its absence is a UsageError saying what to give (`hint`). */
export function required<T>(values: Values, name: string, parse: (v: string) => T, command: string, hint: string): T {
  const v = parsed(values, name, parse, command);
  if (v === undefined) throw new UsageError(`--${name} is required (${hint})`, command);
  return v;
}

/** A text flag that may be left out ("") but not given blank. */
export function nonBlank(values: Values, name: string, command: string): string {
  const v = str(values, name);
  if (v !== undefined && v.trim() === "") throw new UsageError(`--${name} must not be empty`, command);
  return v ?? "";
}

/** The deadline and cancellation every unary call of a command takes. */
export function callSettings(ctx: Context): CallSettings {
  return { timeoutMs: ctx.timeoutMs, signal: ctx.signal };
}

/** Prints the help line shared by every usage text. */
export const GLOBAL_FLAGS_HELP = `Global flags:
  --addr HOST:PORT   scheduler address (default: $DROVER_ADDR, else the config file's addr, else 127.0.0.1:7400)
  --ca FILE          cluster CA certificate to verify the scheduler (default: $DROVER_CA_FILE, else the config
                     file's caFile; config file: $DROVER_CONFIG, else ~/.config/drover/config.json).
                     DROVER_INSECURE=1 talks plaintext to an insecure (test) scheduler
  --token TOKEN      API token (default: $DROVER_TOKEN, else the config file's token)
  -o, --output FMT   table (default) or json
  --timeout SECONDS  deadline for each request (default 30)
  -h, --help         show help`;
