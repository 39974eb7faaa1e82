// What every command gets: parsed flags, output settings, clients, and the error types run() maps to exit codes.
import type { ParseArgsConfig } from "node:util";
import type { Clients } from "./client.js";

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
