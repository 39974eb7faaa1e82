import { Role, type AccessServiceServer, type Token } from "@drover/proto";
import { listTokens, revokeToken, type ApiToken, type RoleName } from "@drover/store";
import { ADMIN, guardedUnary } from "../auth/index.js";
import { issueToken } from "../auth/issue-token.js";
import type { SchedulerContext } from "../context.js";
import { NotFoundError, ValidationError, WrongStateError } from "../errors.js";
import { createJoinToken } from "../tls/join-tokens.js";
import { validateId, validateNodeName, validateProjectName } from "./validation.js";
import { toTimestamp } from "./convert.js";

const ROLE_NAMES: Record<Exclude<Role, Role.ROLE_UNSPECIFIED | Role.UNRECOGNIZED>, RoleName> = {
  [Role.ROLE_ADMIN]: "admin",
  [Role.ROLE_OPERATOR]: "operator",
  [Role.ROLE_MEMBER]: "member",
  [Role.ROLE_VIEWER]: "viewer",
};

export function roleName(r: Role): RoleName {
  const names: Partial<Record<Role, RoleName>> = ROLE_NAMES;
  const name = names[r];
  if (!name) throw new ValidationError("role", "must be ROLE_ADMIN, ROLE_OPERATOR, ROLE_MEMBER or ROLE_VIEWER");
  return name;
}

const ROLES: Record<RoleName, Role> = { admin: Role.ROLE_ADMIN, operator: Role.ROLE_OPERATOR, member: Role.ROLE_MEMBER, viewer: Role.ROLE_VIEWER };
const toRole = (name: RoleName): Role => ROLES[name];

export function tokenToProto(t: ApiToken): Token {
  return {
    id: t.id,
    role: toRole(t.role),
    project: t.project,
    description: t.description,
    createdAt: toTimestamp(t.createdAt),
    ...(t.revokedAt ? { revokedAt: toTimestamp(t.revokedAt) } : {}),
    ...(t.expiresAt ? { expiresAt: toTimestamp(t.expiresAt) } : {}),
  };
}

const TOKEN_TTL_MAX_SECONDS = 10 * 365 * 86_400;
const JOIN_TTL_MAX_SECONDS = 30 * 86_400;
const JOIN_TTL_DEFAULT_SECONDS = 86_400;

/** A ttl_seconds field as milliseconds; 0 is `none`. */
function ttlMs(field: string, seconds: number, max: number, none: string): number | undefined {
  if (seconds === 0) return undefined;
  if (!Number.isSafeInteger(seconds) || seconds > max) throw new ValidationError(field, `is ${seconds}; must be at most ${max} (${max / 86_400} days), or 0 for ${none}`);
  return seconds * 1000;
}

/** AccessService: tokens, admin only. */
export function accessService(ctx: SchedulerContext): AccessServiceServer {
  const unary = guardedUnary(ctx);
  return {
    createToken: unary(
      ADMIN,
      async (req) => {
        const project = req.project ? validateProjectName("project", req.project) : "default";
        if (req.description.length > 200) throw new ValidationError("description", "must be at most 200 characters");
        const { token, bearer } = await issueToken(ctx.sql, {
          role: roleName(req.role),
          project,
          description: req.description,
          ttlMs: ttlMs("ttl_seconds", req.ttlSeconds, TOKEN_TTL_MAX_SECONDS, "a token that never expires"),
        });
        return { token: tokenToProto(token), secret: bearer };
      },
      (req) => req.project || "default",
    ),
    listTokens: unary(ADMIN, async (req) => {
      if (req.project) validateProjectName("project", req.project);
      return { tokens: (await listTokens(ctx.sql, req.project || undefined)).map(tokenToProto) };
    }),
    revokeToken: unary(
      ADMIN,
      async (req) => {
        const token = await revokeToken(ctx.sql, validateId("id", req.id));
        if (!token) throw new NotFoundError("token", req.id);
        // This replica's open streams of the token end now; other replicas' within their sweep.
        ctx.tokenStreams.wake();
        // At once here; the other replicas drop it when the revocation's notification reaches them.
        ctx.tokens.forget(token.id);
        return { token: tokenToProto(token) };
      },
      (req) => req.id,
    ),
    createJoinToken: unary(
      ADMIN,
      async (req) => {
        if (!ctx.identity) throw new WrongStateError("this scheduler runs with DROVER_INSECURE=1: agents connect without joining, so there are no join tokens");
        const nodeName = req.nodeName ? validateNodeName("node_name", req.nodeName) : undefined;
        const ms = ttlMs("ttl_seconds", req.ttlSeconds, JOIN_TTL_MAX_SECONDS, "24 hours") ?? JOIN_TTL_DEFAULT_SECONDS * 1000;
        const t = await createJoinToken(ctx.sql, { nodeName, ttlMs: ms });
        return { joinToken: t.token, id: t.id, nodeName: t.nodeName ?? "", expiresAt: toTimestamp(t.expiresAt) };
      },
      (req) => req.nodeName,
    ),
  };
}
