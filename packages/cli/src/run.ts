// The drover command line: resolve the command, parse flags, run it, map errors to exit codes.
import { parseArgs } from "node:util";
import { status as grpcStatus } from "@grpc/grpc-js";
import { ANSWERED_BY } from "@drover/proto";
import { readFileSync } from "node:fs";
import { type Clients, createClients, isServiceError, statusName, type Transport } from "./client.js";
import { readConfigFile, type ConfigFile } from "./config-file.js";
import {
  type Command,
  type Context,
  GLOBAL_FLAGS_HELP,
  type Group,
  type IO,
  type Options,
  type OutputFormat,
  str,
  UsageError,
  type Values,
} from "./command.js";
import { capacityCommand } from "./commands/capacity.js";
import { eventsCommand } from "./commands/events.js";
import { imageGroup, networkGroup } from "./commands/image.js";
import { nodeGroup } from "./commands/node.js";
import { projectGroup } from "./commands/project.js";
import { tokenGroup } from "./commands/token.js";
import { vmGroup } from "./commands/vm.js";

export const DEFAULT_ADDR = "127.0.0.1:7400";
export const DEFAULT_TIMEOUT_SECONDS = 30;

export interface RunOptions {
  /** Abort to interrupt: `events` stops with exit 0, a pending request is cancelled (exit 130). */
  signal?: AbortSignal;
}

const GLOBAL_OPTIONS: Options = {
  addr: { type: "string" },
  ca: { type: "string" },
  token: { type: "string" },
  output: { type: "string", short: "o" },
  timeout: { type: "string" },
  help: { type: "boolean", short: "h" },
};
/** Global flags that take a value as the next argument. */
const GLOBAL_VALUE_FLAGS = new Set(["--addr", "--ca", "--token", "-o", "--output", "--timeout"]);
const GLOBAL_BOOL_FLAGS = new Set(["-h", "--help"]);

/** Every group and top-level command, in --help order. */
export const COMMANDS: readonly (Group | Command)[] = [vmGroup, nodeGroup, imageGroup, networkGroup, projectGroup, tokenGroup, capacityCommand, eventsCommand];

export const USAGE = `Usage: drover [global flags] COMMAND [flags]

Drover command-line client: creates and operates VMs on a Drover cluster.

Commands:
${COMMANDS.map((e) => `  ${e.name.padEnd(9)}  ${e.summary}`).join("\n")}

Run 'drover COMMAND --help' for more.

${GLOBAL_FLAGS_HELP}

Exit codes: 0 success, 1 request failed (printed as "error: CODE: details"),
2 bad command line, 130 interrupted.
`;

function isGroup(e: Group | Command): e is Group {
  return "commands" in e;
}

/**
 * Finds the next command word at or after `from`, skipping global flags and their
 * values. Stops at the first other flag or at "--".
 */
function nextWord(argv: string[], from: number): number {
  for (let i = from; i < argv.length; i++) {
    const t = argv[i]!;
    if (t === "--") return -1;
    if (GLOBAL_VALUE_FLAGS.has(t)) {
      i++;
      continue;
    }
    if (GLOBAL_BOOL_FLAGS.has(t) || /^--(addr|ca|token|output|timeout)=/.test(t) || /^-o./.test(t)) continue;
    if (t.startsWith("-") && t !== "-") return -1;
    return i;
  }
  return -1;
}

function wantsHelp(argv: string[]): boolean {
  const end = argv.indexOf("--");
  return (end < 0 ? argv : argv.slice(0, end)).some((t) => t === "-h" || t === "--help");
}

function parseError(e: unknown, command: string): UsageError {
  const err = e as Error & { code?: string };
  const opt = /'([^' ]+)/.exec(err.message)?.[1] ?? "";
  switch (err.code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(`unknown flag ${opt} for 'drover ${command}'`, command);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      if (/does not take an argument/.test(err.message)) return new UsageError(`${opt} does not take a value`, command);
      return new UsageError(`${opt} needs a value (to pass one starting with "-", write ${opt}=VALUE)`, command);
    default:
      return new UsageError(err.message, command);
  }
}

/** TLS with the cluster CA from --ca, DROVER_CA_FILE or the config file's caFile; plaintext only with DROVER_INSECURE=1. */
function transportOf(values: Values, env: Record<string, string | undefined>, file: ConfigFile, command: string): Transport {
  // The insecure scheduler says so loudly at start; a warning on every command would only be noise.
  if (env.DROVER_INSECURE === "1") return { kind: "insecure" };
  // The API token rides on TLS only (grpc-js sends call credentials over secure channels alone).
  const token = str(values, "token") ?? (env.DROVER_TOKEN || file.token || undefined);
  const caFile = str(values, "ca") ?? (env.DROVER_CA_FILE || file.caFile);
  if (!caFile) return { kind: "tls", caPem: undefined, token };
  try {
    return { kind: "tls", caPem: readFileSync(caFile), token };
  } catch (err) {
    throw new UsageError(`--ca ${caFile}: ${(err as Error).message}`, command);
  }
}

/** Validates the global flags; throws UsageError. */
function globals(values: Values, env: Record<string, string | undefined>, command: string): { addr: string; transport: Transport; output: OutputFormat; timeoutMs: number } {
  const file = readConfigFile(env, command);
  const transport = transportOf(values, env, file, command);
  const addr = str(values, "addr") ?? (env.DROVER_ADDR || file.addr || DEFAULT_ADDR);
  if (addr.trim() === "") throw new UsageError("--addr must not be empty (expected HOST:PORT)", command);
  const output = str(values, "output") ?? "table";
  if (output !== "table" && output !== "json") {
    throw new UsageError(`-o/--output must be "table" or "json", got "${output}"`, command);
  }
  const timeoutText = str(values, "timeout");
  let timeoutSeconds = DEFAULT_TIMEOUT_SECONDS;
  if (timeoutText !== undefined) {
    timeoutSeconds = Number(timeoutText);
    if (timeoutText.trim() === "" || !Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0) {
      throw new UsageError(`--timeout must be a number of seconds > 0, got "${timeoutText}"`, command);
    }
  }
  return { addr, transport, output, timeoutMs: Math.round(timeoutSeconds * 1000) };
}

/**
 * Runs the drover command line `argv` (without "node drover") and returns the exit
 * code. Output goes to `io`; nothing touches process state, so tests can call it.
 */
export async function run(
  argv: string[],
  env: Record<string, string | undefined>,
  io: IO,
  options: RunOptions = {},
): Promise<number> {
  let clients: Clients | undefined;
  let commandPath = "";
  let timeoutMs = 0;
  try {
    const found = resolveCommand(argv, io);
    if (typeof found === "number") return found;
    const { command, rest } = found;
    commandPath = found.path;
    if (wantsHelp(rest)) {
      io.stdout(command.usage);
      return 0;
    }
    const { values, positionals: args } = parseFlags(command, rest, commandPath);
    const { transport, ...g } = globals(values, env, commandPath);
    checkArgs(command, args, commandPath);
    timeoutMs = g.timeoutMs;
    const ctx: Context = {
      io,
      ...g,
      ...(options.signal ? { signal: options.signal } : {}),
      clients: () => (clients ??= createClients(g.addr, transport)),
    };
    return await command.run(ctx, args, values);
  } catch (e) {
    return reportError(e, io, { commandPath, clients, timeoutMs, signal: options.signal });
  } finally {
    clients?.close();
  }
}

/**
 * Resolves GROUP [COMMAND] or a top-level command from argv. Returns the command, its path
 * ("vm create") and the arguments left; or an exit code when it printed usage instead.
 */
function resolveCommand(argv: string[], io: IO): { command: Command; path: string; rest: string[] } | number {
  const rest = [...argv];
  const first = nextWord(rest, 0);
  if (first < 0) {
    if (wantsHelp(rest)) {
      io.stdout(USAGE);
      return 0;
    }
    io.stderr(USAGE);
    return 2;
  }
  const word = rest[first]!;
  rest.splice(first, 1);
  const entry = COMMANDS.find((e) => e.name === word);
  if (!entry) {
    throw new UsageError(`unknown command "${word}"; expected one of: ${COMMANDS.map((e) => e.name).join(", ")}`, "");
  }
  if (!isGroup(entry)) return { command: entry, path: entry.name, rest };
  const second = nextWord(rest, 0);
  if (second < 0) {
    if (wantsHelp(rest)) {
      io.stdout(entry.usage);
      return 0;
    }
    io.stderr(`error: drover ${entry.name}: missing command; expected one of: ${entry.commands.map((c) => c.name).join(", ")}\n\n`);
    io.stderr(entry.usage);
    return 2;
  }
  const sub = rest[second]!;
  rest.splice(second, 1);
  const command = entry.commands.find((c) => c.name === sub);
  if (!command) {
    throw new UsageError(
      `unknown command "${entry.name} ${sub}"; expected one of: ${entry.commands.map((c) => c.name).join(", ")}`,
      entry.name,
    );
  }
  return { command, path: `${entry.name} ${command.name}`, rest };
}

/** Parses the command's flags and the global ones; throws UsageError. */
function parseFlags(command: Command, rest: string[], commandPath: string): { values: Values; positionals: string[] } {
  try {
    return parseArgs({
      args: rest,
      options: { ...GLOBAL_OPTIONS, ...command.options },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    throw parseError(e, commandPath);
  }
}

/** The command's positional arguments: as many as it names, none empty; throws UsageError. */
function checkArgs(command: Command, args: string[], commandPath: string): void {
  if (args.length < command.args.length) {
    throw new UsageError(`drover ${commandPath}: missing required argument ${command.args[args.length]}`, commandPath);
  }
  if (args.length > command.args.length) {
    throw new UsageError(`drover ${commandPath}: unexpected argument "${args[command.args.length]}"`, commandPath);
  }
  for (const [i, name] of command.args.entries()) {
    if (args[i]!.trim() === "") throw new UsageError(`drover ${commandPath}: ${name} must not be empty`, commandPath);
  }
}

/** Prints what went wrong and returns the exit code: 2 bad command line, 130 interrupted, 1 anything else. */
function reportError(
  e: unknown,
  io: IO,
  at: { commandPath: string; clients: Clients | undefined; timeoutMs: number; signal: AbortSignal | undefined },
): number {
  if (e instanceof UsageError) {
    io.stderr(`error: ${e.message}\n`);
    const path = e.command === undefined ? at.commandPath : e.command;
    io.stderr(`Run 'drover${path ? ` ${path}` : ""} --help' for usage.\n`);
    return 2;
  }
  if (isServiceError(e)) {
    if (at.signal?.aborted) {
      io.stderr("interrupted\n");
      return 130;
    }
    const details = (e.details || e.message).replace(/\s*Resolution note:\s*$/, "");
    io.stderr(`error: ${statusName(e.code)}: ${details}\n`);
    // Only when no scheduler answered: its own UNAVAILABLE (database or node down) names the cause.
    if (e.code === grpcStatus.UNAVAILABLE && at.clients && !e.metadata?.get(ANSWERED_BY).length) {
      if (/certificate|self.signed|TLS|SSL|handshake/i.test(details)) {
        io.stderr("(TLS failed: give the cluster CA with --ca, DROVER_CA_FILE or the config file's caFile; a test scheduler without TLS needs DROVER_INSECURE=1)\n");
      } else {
        io.stderr(`(is the scheduler running at ${at.clients.addr}? set --addr or DROVER_ADDR)\n`);
      }
    }
    if (e.code === grpcStatus.DEADLINE_EXCEEDED) {
      io.stderr(`(no answer within ${at.timeoutMs}ms; raise --timeout to wait longer)\n`);
    }
    return 1;
  }
  io.stderr(`error: ${(e as Error)?.message ?? String(e)}\n`);
  return 1;
}
