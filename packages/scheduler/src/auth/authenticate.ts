import type { Metadata } from "@grpc/grpc-js";
import { findToken, type Sql } from "@drover/store";
import type { Counter } from "prom-client";
import { UnauthenticatedError } from "../errors.js";
import type { Principal } from "./roles.js";
import { parseBearer, secretMatches } from "./secret.js";

/** Why a call was refused, as counted in drover_auth_refusals_total{reason}. */
export type RefusalReason = "missing-token" | "malformed-token" | "unknown-token" | "revoked-token" | "permission-denied";

/** Who runs every call when the scheduler runs with DROVER_INSECURE=1. */
export const INSECURE_PRINCIPAL: Principal = { tokenId: "insecure", role: "admin", project: "default" };

/**
 * Turns a call's `authorization: Bearer <token>` metadata into its caller.
 * Every call reads the token row (one primary-key lookup), so a revocation
 * holds from the next call on, on every replica; no cache to go stale.
 */
export class Authenticator {
  constructor(
    private readonly sql: Sql,
    readonly insecure: boolean,
    private readonly refusals: Counter<"surface" | "reason">,
  ) {}

  async authenticate(metadata: Metadata): Promise<Principal> {
    if (this.insecure) return INSECURE_PRINCIPAL;
    const header = metadata.get("authorization")[0];
    if (typeof header !== "string" || header === "") {
      throw this.refuse("missing-token", "no token: send gRPC metadata `authorization: Bearer <token>` (drover --token, DROVER_TOKEN or the CLI config file)");
    }
    const parsed = parseBearer(header.replace(/^Bearer\s+/i, ""));
    if (!/^Bearer\s+/i.test(header) || !parsed) {
      throw this.refuse("malformed-token", "authorization metadata is not `Bearer drover_<id>_<secret>`");
    }
    const token = await findToken(this.sql, parsed.id);
    if (!token || !secretMatches(parsed.secret, token.secretHash)) throw this.refuse("unknown-token", "token not recognized");
    if (token.revokedAt) throw this.refuse("revoked-token", `token ${token.id} was revoked at ${token.revokedAt.toISOString()}`);
    return { tokenId: token.id, role: token.role, project: token.project };
  }

  /** Counts a refusal for a reason decided elsewhere (a missing role). */
  countRefusal(reason: RefusalReason): void {
    this.refusals.inc({ surface: "api", reason });
  }

  private refuse(reason: RefusalReason, message: string): UnauthenticatedError {
    this.countRefusal(reason);
    return new UnauthenticatedError(message);
  }
}
