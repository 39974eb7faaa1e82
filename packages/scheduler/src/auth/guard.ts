// The one place an RPC meets authentication, authorization and the audit
// trail: handlers are written as guarded(roles, fn, audit?) and get the
// caller as an argument; nothing runs before the token is checked.
import { status, type Metadata, type sendUnaryData, type ServerUnaryCall, type ServerWritableStream } from "@grpc/grpc-js";
import { statusOf, type UnaryHandler } from "@drover/proto";
import { PermissionDeniedError } from "../errors.js";
import { toStatus } from "../api/grpc-status.js";
import type { AuditEntry } from "@drover/store";
import type { AuditLog } from "./audit-log.js";
import type { Authenticator, CallSite } from "./authenticate.js";
import { requireRole, type Principal, type Role } from "./roles.js";
import type { TokenStreams } from "./token-streams.js";

export interface GuardDeps {
  auth: Authenticator;
  audit: AuditLog;
  /** Ends open streams whose token was revoked or expired. */
  tokenStreams: TokenStreams;
  log(message: string): void;
}

const siteOf = (call: { getPath(): string; getPeer(): string }): CallSite => ({ method: call.getPath(), peer: call.getPeer() });

/** For a mutating RPC: what the request acts on, for the audit event ("" if nothing). */
export type AuditTarget<Req> = (req: Req) => string;

/**
 * A mutating call's audit event on success, for a handler that commits it in its own statement
 * (CreateVms: with the VMs, rather than in a statement of its own after them). The handler sets
 * `written` once that statement has committed; otherwise the guard writes the event, as for
 * every other call. A failed call's event is always the guard's.
 */
export interface AuditSlot {
  readonly entry: AuditEntry;
  written: boolean;
}

/** "/drover.v1.VmService/DeleteVm" → "delete_vm". */
export const verbOf = (path: string): string =>
  path
    .slice(path.lastIndexOf("/") + 1)
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .toLowerCase();

/**
 * Checks the caller's token and role, for RPCs of other modules too (the
 * image catalog): returns the caller or throws UnauthenticatedError /
 * PermissionDeniedError, counting the refusal.
 */
export async function authorize(deps: Pick<GuardDeps, "auth">, metadata: Metadata, roles: readonly Role[], what: string, at?: CallSite): Promise<Principal> {
  const who = await deps.auth.authenticate(metadata, at);
  try {
    requireRole(who, roles, what);
  } catch (err) {
    deps.auth.denied(who, (err as Error).message, at);
    throw err;
  }
  return who;
}

/** Makes `guarded(roles, fn, audit?)`: a unary handler that runs fn only for a caller with one of `roles`. */
export function guardedUnary(deps: GuardDeps) {
  const options = { toStatus, program: "scheduler", log: deps.log };
  return <Req, Res>(
    roles: readonly Role[],
    fn: (req: Req, who: Principal, call: ServerUnaryCall<Req, Res>, audit: AuditSlot | undefined) => Promise<Res>,
    audit?: AuditTarget<Req>,
  ): UnaryHandler<Req, Res> =>
    (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
      const path = call.getPath();
      let who: Principal | undefined;
      let slot: AuditSlot | undefined;
      const run = async () => {
        who = await deps.auth.authenticate(call.metadata, siteOf(call));
        requireRole(who, roles, path);
        if (audit) slot = { entry: auditEntry(who, path, audit(call.request), "OK", ""), written: false };
        return fn(call.request, who, call, slot);
      };
      run().then(
        async (res) => {
          if (audit && who && !slot?.written) await recordAudit(deps, who, path, audit(call.request), "OK", "");
          callback(null, res);
        },
        async (err: unknown) => {
          if (err instanceof PermissionDeniedError && who) deps.auth.denied(who, err.message, siteOf(call));
          const answer = statusOf(err, path, options);
          // An unauthenticated call has no one to record; it is counted in the refusal metric. A call
          // whose success was recorded with its effect failed only after it (answering): that record stands.
          if (audit && who && !slot?.written) {
            await recordAudit(deps, who, path, audit(call.request), status[answer.code ?? status.UNKNOWN] ?? "UNKNOWN", answer.details ?? "");
          }
          callback(answer);
        },
      );
    };
}

/** An open server stream's caller, and how the stream learns that its token ended. */
export interface GuardedStream {
  who: Principal;
  /** Set once the caller's token was revoked or expired: the stream must stop. */
  readonly ended: Error | undefined;
  /** Runs `fn` (once) when the token ends; at once if it already has. */
  onEnd(fn: (err: Error) => void): void;
  /** Stops watching the token; call when the stream finishes, however it does. */
  release(): void;
}

/**
 * Checks the caller of a server stream before it starts (the refusal is
 * answered by the caller's catch), then watches its token: when the token is
 * revoked or expires, the stream is answered UNAUTHENTICATED at once and
 * `ended` is set, so the handler's loop stops writing.
 */
export async function guardStream<Req, Res>(deps: GuardDeps, call: ServerWritableStream<Req, Res>, roles: readonly Role[]): Promise<GuardedStream> {
  const who = await authorize(deps, call.metadata, roles, call.getPath(), siteOf(call));
  const options = { toStatus, program: "scheduler", log: deps.log };
  let ended: Error | undefined;
  const waiting: ((err: Error) => void)[] = [];
  let released = false;
  const stop = deps.tokenStreams.watch(who, (err) => {
    // A sweep that read the token's end just as the stream finished on its own: nothing to end.
    if (released) return;
    ended = err;
    release();
    call.emit("error", statusOf(err, call.getPath(), options));
    for (const fn of waiting.splice(0)) fn(err);
  });
  const release = () => {
    released = true;
    stop();
  };
  call.on("cancelled", release);
  return {
    who,
    get ended() {
      return ended;
    },
    onEnd(fn) {
      if (ended) fn(ended);
      else waiting.push(fn);
    },
    release,
  };
}

const auditEntry = (who: Principal, method: string, target: string, result: string, message: string): AuditEntry => ({
  verb: verbOf(method),
  tokenId: who.tokenId,
  role: who.role,
  project: who.project,
  method,
  target,
  result,
  message,
});

async function recordAudit(deps: GuardDeps, who: Principal, method: string, target: string, result: string, message: string): Promise<void> {
  try {
    await deps.audit.record(auditEntry(who, method, target, result, message));
  } catch (err) {
    // The call's effect already happened; say loudly that its record is missing rather than hide the result.
    deps.log(`audit: could not record ${method} by token ${who.tokenId} (${result}): ${err instanceof Error ? err.message : String(err)}`);
  }
}
