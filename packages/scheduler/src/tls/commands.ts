// drover-scheduler's local commands for the cluster's identities, run on a scheduler host:
// like `kubeadm token create` or `nomad acl bootstrap`, they need the CA files or the
// database, not the API (the first admin token cannot come from an API that needs one).
//   ca create --dir DIR
//   join-token create [--name NODE] [--ttl 24h]
//   cert revoke (--node NODE | --serial HEX)
//   token create --role ROLE [--project P] [--description TEXT] [--ttl 30d]
import { connect, migrate, revokeCertificates, type RoleName } from "@drover/store";
import { issueToken } from "../auth/issue-token.js";
import { configFromEnv } from "../config.js";
import { createClusterCa } from "./cluster-ca.js";
import { createJoinToken } from "./join-tokens.js";
export { TLS_COMMANDS_USAGE } from "./commands-usage.js";


class UsageError extends Error {}

const ROLES: readonly RoleName[] = ["admin", "operator", "member", "viewer"];

/**
 * Runs a command; undefined when args are not one of ours. `out` gets what a script
 * captures (the token), `note` what a person reads beside it.
 */
export async function runTlsCommand(
  args: string[],
  env: Record<string, string | undefined>,
  out: (m: string) => void,
  note: (m: string) => void = out,
): Promise<number | undefined> {
  const [noun, verb, ...rest] = args;
  const command = `${noun} ${verb}`;
  if (!["ca create", "join-token create", "cert revoke", "token create"].includes(command)) return undefined;
  try {
    const flags = parseFlags(rest);
    if (command === "ca create") {
      const dir = need(flags, "dir");
      const { certFile } = await createClusterCa(dir);
      out(`created the cluster CA in ${dir} (${certFile}); set DROVER_TLS_DIR=${dir} on schedulers and give agents and clients ${certFile}`);
      return 0;
    }
    return await withDatabase(env, async (sql) => {
      if (command === "join-token create") {
        const t = await createJoinToken(sql, { nodeName: flags.get("name"), ttlMs: parseDuration(flags.get("ttl") ?? "24h") });
        out(t.token);
        return 0;
      }
      if (command === "token create") {
        const role = need(flags, "role") as RoleName;
        if (!ROLES.includes(role)) throw new UsageError(`--role ${JSON.stringify(role)}: expected one of ${ROLES.join(", ")}`);
        const ttl = flags.get("ttl");
        const { token, bearer } = await issueToken(sql, {
          role,
          project: flags.get("project") ?? "default",
          description: flags.get("description") ?? "drover-scheduler token create",
          ttlMs: ttl === undefined ? undefined : parseDuration(ttl),
        });
        out(bearer);
        note(`token ${token.id}: role ${token.role}, project ${token.project}, ${token.expiresAt ? `expires ${token.expiresAt.toISOString()}` : "never expires"}; the secret above is shown only this once`);
        return 0;
      }
      const which = flags.has("serial") ? { serial: need(flags, "serial").toLowerCase() } : { nodeName: need(flags, "node") };
      out(`revoked ${await revokeCertificates(sql, which)} certificate(s)`);
      return 0;
    });
  } catch (err) {
    out(`drover-scheduler ${command}: ${(err as Error).message}`);
    return err instanceof UsageError ? 2 : 1;
  }
}

async function withDatabase(env: Record<string, string | undefined>, fn: (sql: ReturnType<typeof connect>) => Promise<number>): Promise<number> {
  const config = configFromEnv(env);
  if (!config.databaseUrl) {
    throw new UsageError("needs DROVER_DATABASE_URL: an embedded database lives inside its scheduler process (npm run cluster creates its tokens itself)");
  }
  const sql = connect(config.databaseUrl, { max: 1 });
  try {
    await migrate(sql);
    return await fn(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

function parseFlags(args: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) {
    const name = /^--([a-z-]+)$/.exec(args[i]!)?.[1];
    const value = args[i + 1];
    if (!name || value === undefined) throw new UsageError(`expected --flag value pairs, got ${JSON.stringify(args.slice(i).join(" "))}`);
    flags.set(name, value);
  }
  return flags;
}

function need(flags: Map<string, string>, name: string): string {
  const v = flags.get(name);
  if (!v) throw new UsageError(`--${name} is required`);
  return v;
}

/** "90s", "30m", "24h", "7d" or plain milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--ttl ${JSON.stringify(text)}: expected a duration like 90s, 30m, 24h or 7d`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] ?? "ms"]!;
  const ms = Number(m[1]) * unit;
  if (ms < 1000) throw new UsageError("--ttl must be at least 1s");
  return ms;
}
