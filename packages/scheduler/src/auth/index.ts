// Authentication and authorization of the public API (tokens, roles, projects, audit).
export { ADMIN, FLEET, READ, VM_WRITE, requireProject, requireRole, requireVisibleVm, seesEveryProject, type Principal, type Role } from "./roles.js";
export { Authenticator, INSECURE_PRINCIPAL, type CallSite, type RefusalReason } from "./authenticate.js";
export { AuditLog } from "./audit-log.js";
export { authorize, guardedUnary, guardStream, verbOf, type GuardDeps, type GuardedStream } from "./guard.js";
export { DenialLog, DEFAULT_DENIAL_LIMITS, type Denial, type DenialLimits } from "./denials.js";
export { TokenStreams, TOKEN_SWEEP_MS } from "./token-streams.js";
export { newSecret, parseBearer } from "./secret.js";
