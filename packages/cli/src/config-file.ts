// The CLI's config file: $DROVER_CONFIG, else ~/.config/drover/config.json, JSON
// { "addr": "host:port", "token": "...", "caFile": "/abs/ca.pem" }. Flags beat env beats file.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { UsageError } from "./command.js";

export interface ConfigFile {
  addr?: string;
  token?: string;
  caFile?: string;
}

export function configFilePath(env: Record<string, string | undefined>): string {
  return env.DROVER_CONFIG || join(env.HOME || homedir(), ".config", "drover", "config.json");
}

/** The file's settings; {} when there is none (an explicit DROVER_CONFIG must exist). */
export function readConfigFile(env: Record<string, string | undefined>, command: string): ConfigFile {
  const path = configFilePath(env);
  if (!existsSync(path)) {
    if (env.DROVER_CONFIG) throw new UsageError(`DROVER_CONFIG=${path}: no such file`, command);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new UsageError(`${path}: not JSON (${(err as Error).message})`, command);
  }
  if (typeof parsed !== "object" || parsed === null) throw new UsageError(`${path}: expected a JSON object`, command);
  const out: ConfigFile = {};
  for (const key of ["addr", "token", "caFile"] as const) {
    const v = (parsed as Record<string, unknown>)[key];
    if (v === undefined) continue;
    if (typeof v !== "string") throw new UsageError(`${path}: "${key}" must be a string`, command);
    out[key] = v;
  }
  return out;
}
