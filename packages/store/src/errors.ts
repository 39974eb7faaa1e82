// The store's own errors (nats.js style: one class per failure, structured
// fields, the driver's error as `cause`). The scheduler maps them to gRPC.

/**
 * Another writer took the room first, or the transaction lost a lock race
 * (deadlock or serialization failure: `lockRace`, the driver's error as
 * cause). Nothing was written; the caller retries on a fresh snapshot.
 */
export class ClaimConflictError extends Error {
  readonly kind = "claim-conflict";
  constructor(
    readonly nodes: string[],
    options?: ErrorOptions & { lockRace?: boolean },
  ) {
    super(
      options?.lockRace
        ? `conflict with a concurrent transaction${nodes.length ? ` on ${nodes.join(", ")}` : ""}; nothing was written, retry`
        : `claim conflict on ${nodes.join(", ")}: capacity changed since the snapshot`,
      options,
    );
    this.name = "ClaimConflictError";
  }
}

/**
 * A group check in the claim's statement refused (migration 019): an anti-affinity group already
 * had a member on the node, or an affinity group would have spanned two nodes, because another
 * writer (another replica) placed a member first. Nothing was written; the caller re-reads the
 * groups and places again. A ClaimConflictError, so every retry path treats it as one.
 */
export class GroupConflictError extends ClaimConflictError {
  constructor(
    readonly refused: string[],
    options?: ErrorOptions,
  ) {
    super([], options);
    this.message = `group conflict: ${refused.join("; ")}; nothing was written, retry`;
    this.name = "GroupConflictError";
  }
}

/** 40001 serialization_failure and 40P01 deadlock_detected: Postgres rolled the transaction back, and running it again can work. */
const LOCK_RACE_CODES = new Set(["40001", "40P01"]);

/** Whether a thrown value is Postgres aborting the transaction for a lock race (deadlock, serialization failure). */
export function isLockRace(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && LOCK_RACE_CODES.has(code);
}

/**
 * The database cannot be reached or dropped the connection. The message names
 * no address: it may reach clients. The driver's error is the cause, for logs.
 */
export class StoreUnavailableError extends Error {
  readonly kind = "store-unavailable";
  constructor(options?: ErrorOptions) {
    super("database unavailable; retry", options);
    this.name = "StoreUnavailableError";
  }
}

/** A create would take its project past a quota; `quota` names the limit, with the usage before the create. */
export class QuotaExceededError extends Error {
  readonly kind = "quota-exceeded";
  constructor(
    readonly project: string,
    readonly quota: "vcpus" | "memory_mib" | "disk_gib" | "vms" | "project",
    readonly limit: number,
    readonly used: number,
    readonly requested: number,
    options?: ErrorOptions,
  ) {
    super(
      quota === "project"
        ? `project ${project} does not exist`
        : `project ${project} quota ${quota} exceeded: ${used} used + ${requested} requested > ${limit} allowed`,
      options,
    );
    this.name = "QuotaExceededError";
  }
}

/**
 * The client's deadline passed before the commit could land: nothing was written. Checked right
 * before the commit and by the commit statement itself, so a request the client gave up on
 * never turns into VMs afterwards.
 */
export class DeadlineExceededError extends Error {
  readonly kind = "deadline-exceeded";
  constructor(options?: ErrorOptions) {
    super("deadline exceeded before the request was committed; nothing was created, retry with a longer deadline", options);
    this.name = "DeadlineExceededError";
  }
}

/**
 * COMMIT answered ROLLBACK: a statement of the transaction failed, its caller caught the error and
 * went on, and Postgres had aborted the transaction at that statement. Nothing was written; running
 * the whole transaction again can work (the statement may have lost a race, e.g. on a unique key).
 * The failed statement's error, when the transaction saw it, is the cause (for logs only).
 */
export class TransactionAbortedError extends Error {
  readonly kind = "transaction-aborted";
  constructor(options?: ErrorOptions) {
    super("transaction aborted: one of its statements failed, so Postgres rolled it back at COMMIT; nothing was written, retry", options);
    this.name = "TransactionAbortedError";
  }
}

export type StoreError = ClaimConflictError | StoreUnavailableError | DeadlineExceededError | QuotaExceededError | TransactionAbortedError;

export function isStoreError(err: unknown): err is StoreError {
  return (
    err instanceof ClaimConflictError ||
    err instanceof StoreUnavailableError ||
    err instanceof DeadlineExceededError ||
    err instanceof QuotaExceededError ||
    err instanceof TransactionAbortedError
  );
}

/** Milliseconds left before `deadline` (epoch ms; Infinity for none); throws DeadlineExceededError when none are. */
export function remainingMs(deadline: number): number {
  const left = deadline - Date.now();
  if (left <= 0) throw new DeadlineExceededError();
  return left;
}

// Failures where retrying later can work, by who reports them.
/** postgres.js's own connection errors. */
const DRIVER_CODES = new Set(["CONNECTION_CLOSED", "CONNECTION_ENDED", "CONNECTION_DESTROYED", "CONNECT_TIMEOUT"]);
/** Node's socket errors (only with a socket syscall, so a file's ENOENT is not one); ENOENT is a Unix socket with no server. */
const SOCKET_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN", "ENOENT"]);
const SOCKET_SYSCALLS = new Set(["connect", "read", "write", "getaddrinfo"]);
/** The server going away: 57P01 admin shutdown, 57P02 crash shutdown, 57P03 starting up, 53300 too many connections; class 08 is "connection exception". */
const SERVER_CODES = new Set(["57P01", "57P02", "57P03", "53300"]);

/** Whether a thrown value is the database being out of reach rather than a bad query. */
export function isConnectionFailure(err: unknown): boolean {
  // The store's own verdict (transaction.ts: the transaction's connection was lost).
  if (err instanceof StoreUnavailableError) return true;
  const e = err as { code?: unknown; syscall?: unknown } | null;
  const code = e?.code;
  if (typeof code !== "string") return false;
  if (DRIVER_CODES.has(code) || SERVER_CODES.has(code) || /^08[0-9A-Z]{3}$/.test(code)) return true;
  // EPIPE without a syscall is node's write to a socket the server already closed (net.js
  // writeAfterFIN: "This socket has been ended by the other party"), as in a Postgres restart.
  if (code === "EPIPE" && e?.syscall === undefined) return true;
  return SOCKET_CODES.has(code) && typeof e?.syscall === "string" && SOCKET_SYSCALLS.has(e.syscall);
}

/**
 * What a thrown value means in the store's terms: a connection-level failure
 * becomes StoreUnavailableError, a lock race ClaimConflictError (both with
 * the driver's error as cause); anything else is returned as it is.
 */
export function asStoreError(err: unknown): unknown {
  if (isStoreError(err)) return err;
  if (isLockRace(err)) return new ClaimConflictError([], { cause: err, lockRace: true });
  return isConnectionFailure(err) ? new StoreUnavailableError({ cause: err }) : err;
}
