import type { Metadata } from "@grpc/grpc-js";
import { findToken, type Sql } from "@drover/store";
import type { Counter } from "prom-client";
import { UnauthenticatedError } from "../errors.js";
import type { Denial, DenialLog } from "./denials.js";
import type { Principal } from "./roles.js";
import { parseBearer, secretMatches } from "./secret.js";

/** Why a call was refused, as counted in drover_auth_refusals_total{reason}. */
export type RefusalReason = "missing-token" | "malformed-token" | "unknown-token" | "revoked-token" | "expired-token" | "permission-denied";

/** Who runs every call when the scheduler runs with DROVER_INSECURE=1. */
export const INSECURE_PRINCIPAL: Principal = { tokenId: "insecure", role: "admin", project: "default" };

/** Reads a token row by id, revoked or not (findToken, or a TokenCache's find). */
export type TokenLookup = (id: string) => ReturnType<typeof findToken>;

/** Where a call came from, for the drover.audit.denied record of a refusal. */
export interface CallSite {
  method: string;
  peer: string;
}

/**
 * Turns a call's `authorization: Bearer <token>` metadata into its caller.
 * Every call checks the token row: read each time (findToken), or through the
 * scheduler's TokenCache, which every replica empties of a revoked token when
 * the revocation commits (and which keeps no row longer than 2 s).
 * Every refusal is counted and, bounded, recorded (denials.ts).
 */
export class Authenticator {
  constructor(
    sql: Sql,
    readonly insecure: boolean,
    private readonly refusals: Counter<"surface" | "reason">,
    private readonly denials?: DenialLog,
    private readonly lookup: TokenLookup = (id) => findToken(sql, id),
  ) {}

  async authenticate(metadata: Metadata, at?: CallSite): Promise<Principal> {
    if (this.insecure) return INSECURE_PRINCIPAL;
    const header = metadata.get("authorization")[0];
    if (typeof header !== "string" || header === "") {
      throw this.refuse(at, "missing-token", "no token: send gRPC metadata `authorization: Bearer <token>` (drover --token, DROVER_TOKEN or the CLI config file)");
    }
    const parsed = parseBearer(header.replace(/^Bearer\s+/i, ""));
    if (!/^Bearer\s+/i.test(header) || !parsed) {
      throw this.refuse(at, "malformed-token", "authorization metadata is not `Bearer drover_<id>_<secret>`");
    }
    const token = await this.lookup(parsed.id);
    if (!token || !secretMatches(parsed.secret, token.secretHash)) throw this.refuse(at, "unknown-token", "token not recognized");
    const who = { tokenId: token.id, role: token.role, project: token.project };
    if (token.revokedAt) throw this.refuse(at, "revoked-token", `token ${token.id} was revoked at ${token.revokedAt.toISOString()}`, who);
    if (token.expired) {
      throw this.refuse(at, "expired-token", `token expired: token ${token.id} expired at ${token.expiresAt?.toISOString()}; create a new one`, who);
    }
    return who;
  }

  /** Counts (and records, when `at` is given) a refusal for a missing role, decided elsewhere. */
  denied(who: Principal, message: string, at?: CallSite): void {
    this.refusals.inc({ surface: "api", reason: "permission-denied" });
    if (at) this.note(at, { result: "PERMISSION_DENIED", message, tokenId: who.tokenId, role: who.role, project: who.project });
  }

  /** Counts a refusal without a record (kept for callers outside the guard). */
  countRefusal(reason: RefusalReason): void {
    this.refusals.inc({ surface: "api", reason });
  }

  private refuse(at: CallSite | undefined, reason: RefusalReason, message: string, who?: Principal): UnauthenticatedError {
    this.countRefusal(reason);
    if (at) this.note(at, { result: "UNAUTHENTICATED", message, tokenId: who?.tokenId, role: who?.role, project: who?.project });
    return new UnauthenticatedError(message);
  }

  private note(at: CallSite, d: Omit<Denial, "method" | "peer">): void {
    this.denials?.note({ ...d, method: at.method, peer: at.peer });
  }
}
