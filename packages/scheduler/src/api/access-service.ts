import { Role, type AccessServiceServer, type Token } from "@drover/proto";
import { listTokens, revokeToken, type ApiToken, type RoleName } from "@drover/store";
import { ADMIN, guardedUnary } from "../auth/index.js";
import { issueToken } from "../auth/issue-token.js";
import type { SchedulerContext } from "../context.js";
import { NotFoundError, ValidationError } from "../errors.js";
import { validateId, validateProjectName } from "./validation.js";
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
  };
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
        const { token, bearer } = await issueToken(ctx.sql, { role: roleName(req.role), project, description: req.description });
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
        return { token: tokenToProto(token) };
      },
      (req) => req.id,
    ),
  };
}
