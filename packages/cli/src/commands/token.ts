// drover token create|list|revoke: API tokens (admin only). A token's secret is
// printed once, by create; list and revoke never show one (the scheduler keeps
// only a hash).
import { CreateTokenResponse, ListTokensResponse, RevokeTokenResponse, Role, type Token } from "@drover/proto";
import { unary } from "../client.js";
import { callSettings, type Command, GLOBAL_FLAGS_HELP, group, type Group, nonBlank, parsed, required, str, UsageError } from "../command.js";
import { printAnswer, printList } from "../output.js";
import { formatFields, formatJson, formatTable } from "../format.js";
import { isoOf } from "../timestamps.js";
import { parseDurationSeconds } from "../units.js";


const ROLES: Record<string, Role> = { admin: Role.ROLE_ADMIN, operator: Role.ROLE_OPERATOR, member: Role.ROLE_MEMBER, viewer: Role.ROLE_VIEWER };

export function roleText(r: Role): string {
  return Object.entries(ROLES).find(([, v]) => v === r)?.[0] ?? "?";
}

function parseRole(v: string): Role {
  const r = ROLES[v.toLowerCase()];
  if (r === undefined) throw new Error(`must be one of ${Object.keys(ROLES).join(", ")}, got "${v}"`);
  return r;
}

const expiryText = (t: Token) => isoOf(t.expiresAt) ?? "never";

function tokenTable(tokens: Token[]): string {
  return formatTable(
    ["ID", "ROLE", "PROJECT", "CREATED", "EXPIRES", "REVOKED", "DESCRIPTION"],
    tokens.map((t) => [t.id, roleText(t.role), t.project, isoOf(t.createdAt) ?? "", expiryText(t), isoOf(t.revokedAt) ?? "", t.description]),
  );
}

const create: Command = {
  name: "create",
  summary: "make an API token; its secret is printed once",
  usage: `Usage: drover token create --role ROLE [--project NAME] [--description TEXT] [--ttl DURATION]

Makes an API token and prints its secret (drover_<id>_<secret>) this once: the
scheduler keeps only a hash, so store it now. Needs an admin token.

  --role ROLE          admin, operator, member or viewer
  --project NAME       the project it acts in (default: default); members and
                       viewers see only this project
  --description TEXT   who or what holds it (shown by 'token list')
  --ttl DURATION       lifetime, e.g. 12h, 30d, 2w (s, m, h, d, w); after it the
                       token is refused with UNAUTHENTICATED "token expired".
                       Default: never expires (revoke it with 'token revoke')

${GLOBAL_FLAGS_HELP}
`,
  args: [],
  options: { role: { type: "string" }, project: { type: "string" }, description: { type: "string" }, ttl: { type: "string" } },
  async run(ctx, _args, values) {
    const role = required(values, "role", parseRole, "token create", "admin, operator, member or viewer");
    const ttlSeconds = parsed(values, "ttl", parseDurationSeconds, "token create") ?? 0;
    const project = nonBlank(values, "project", "token create");
    const c = ctx.clients();
    const res = await unary(c.access.createToken.bind(c.access), { role, project, description: str(values, "description") ?? "", ttlSeconds }, callSettings(ctx));
    if (ctx.output === "json") {
      ctx.io.stdout(formatJson(CreateTokenResponse.toJSON(res)));
    } else {
      const t = res.token;
      ctx.io.stdout(formatFields([["Token", res.secret], ["ID", t?.id], ["Role", t ? roleText(t.role) : undefined], ["Project", t?.project], ["Expires", t ? expiryText(t) : undefined]]));
    }
    ctx.io.stderr("The secret is shown only this once: store it now (e.g. DROVER_TOKEN or the config file's token).\n");
    return 0;
  },
};

const list: Command = {
  name: "list",
  summary: "list API tokens (never their secrets)",
  usage: `Usage: drover token list [--project NAME]

Lists tokens with their role, project, creation, expiry and revocation times.
Secrets are never shown: the scheduler does not have them. Needs an admin token.

  --project NAME   only this project's tokens

${GLOBAL_FLAGS_HELP}
`,
  args: [],
  options: { project: { type: "string" } },
  async run(ctx, _args, values) {
    const c = ctx.clients();
    const res = await unary(c.access.listTokens.bind(c.access), { project: str(values, "project") ?? "" }, callSettings(ctx));
    printList(ctx, ListTokensResponse.toJSON(res), res.tokens, tokenTable, "tokens");
    return 0;
  },
};

const revoke: Command = {
  name: "revoke",
  summary: "revoke a token: refused from now on, its open streams end",
  usage: `Usage: drover token revoke ID

Revokes the token with this ID (from 'token list'). Its next call is refused
with UNAUTHENTICATED on every scheduler replica, and its open streams (events,
vm console-log --follow) end. Revoking twice keeps the first time. Needs an admin token.

${GLOBAL_FLAGS_HELP}
`,
  args: ["ID"],
  options: {},
  async run(ctx, args) {
    const id = args[0]!;
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
      throw new UsageError(`ID must be a token id (a UUID, as 'drover token list' shows), got "${id}"`, "token revoke");
    }
    const c = ctx.clients();
    const res = await unary(c.access.revokeToken.bind(c.access), { id }, callSettings(ctx));
    printAnswer(ctx, RevokeTokenResponse.toJSON(res), () => tokenTable(res.token ? [res.token] : []));
    return 0;
  },
};

const commands = [create, list, revoke];
export const tokenGroup: Group = group({
  name: "token",
  summary: "API tokens: create, list, revoke (admin)",
  commands,
  note: "The first admin token comes from 'drover-scheduler token create --role admin'\non a scheduler host.",
});
