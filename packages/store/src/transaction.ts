// Transactions on a connection no one else can use. postgres.js 3.4.9's sql.begin() sends BEGIN
// through the pool's query path and reserves the connection in an onexecute hook that is skipped
// at the pipeline boundary or under socket backpressure (porsager/postgres#1189, #823): the call
// fails UNSAFE_TRANSACTION and the server-side transaction stays open on a pooled connection,
// where other callers' statements then run. sql.reserve() hands out only an idle connection and
// keeps it out of the pool until release(), so BEGIN, the callback's statements and COMMIT run on
// it alone.
import { isConnectionFailure, StoreUnavailableError, TransactionAbortedError } from "./errors.js";
import type postgres from "postgres";
import type { Db, ReservedTx, Sql, Tx, Types } from "./db.js";
import { nextClose } from "./pool-closes.js";

export interface TransactionOptions {
  /** @default Postgres's default_transaction_isolation (read committed) */
  isolation?: "read committed" | "repeatable read" | "serializable";
  /** @default false */
  readOnly?: boolean;
}

const ISOLATIONS = new Set(["read committed", "repeatable read", "serializable"]);

/** The BEGIN statement for `options`, from fixed words only (the options may come from anywhere typed). */
export function beginStatement(options: TransactionOptions = {}): string {
  let text = "BEGIN";
  if (options.isolation !== undefined) {
    if (!ISOLATIONS.has(options.isolation)) throw new TypeError(`transaction isolation: unknown level ${JSON.stringify(options.isolation)}`);
    text += ` ISOLATION LEVEL ${options.isolation.toUpperCase()}`;
  }
  if (options.readOnly !== undefined && typeof options.readOnly !== "boolean") throw new TypeError("transaction readOnly: not a boolean");
  if (options.readOnly) text += " READ ONLY";
  return text;
}

/** The handles transaction() gave out: held weakly, so a finished transaction's handle is not kept. */
const handles = new WeakSet<object>();

/**
 * Whether `db` is an open transaction's handle rather than a pool: transaction()'s (marked as it
 * is made), or sql.begin's where a test sets up data with it (postgres.js marks nothing; its handle
 * is the only one with savepoint, and its type, postgres.TransactionSql, says so). Code that must
 * run in one transaction asks this before it starts its own: a BEGIN and COMMIT of its own inside
 * the caller's would end the caller's transaction half-way.
 */
export function inTransaction(db: Db): db is Tx {
  return handles.has(db) || "savepoint" in db;
}

type Body<T> = (tx: ReservedTx) => T | Promise<T>;
/** What transaction() resolves to: `fn`'s value, an array's elements awaited. */
type Outcome<T> = T extends readonly unknown[] ? { -readonly [K in keyof T]: Awaited<T[K]> } : Awaited<T>;

/**
 * Runs `fn` in a transaction on a reserved connection: BEGIN, `fn`, COMMIT; ROLLBACK when `fn`
 * throws (its error is rethrown as it is, so the store's mapping of lock races, deadlines and
 * connection loss still applies). When `fn` caught a failed statement and returned, COMMIT is
 * Postgres's ROLLBACK and this rejects with TransactionAbortedError (ABORTED at the API). Resolves to what `fn` returns (an array of queries is awaited,
 * as sql.begin does). The connection goes back to the pool only when it is idle again; one that
 * broke is left to the pool, which took it back when it closed.
 * Inside `fn`, use only `tx`: a statement on the pool would wait for a free connection, and the
 * embedded database has one.
 */
export async function transaction<T>(sql: Sql, fn: Body<T>): Promise<Outcome<T>>;
export async function transaction<T>(sql: Sql, options: TransactionOptions, fn: Body<T>): Promise<Outcome<T>>;
export async function transaction<T>(sql: Sql, a: TransactionOptions | Body<T>, b?: Body<T>): Promise<Outcome<T>> {
  const [options, fn] = typeof a === "function" ? [{}, a] : [a, b!];
  const begin = beginStatement(options);
  const conn = await reserve(sql);
  let idle = false;
  try {
    const session = sessionOf(conn, (await conn.unsafe(begin)).state);
    let value: Outcome<T>;
    try {
      // Only an array fn returns as it is, as sql.begin does: a query's Result is an array too, and
      // Promise.all of it would lose its count and command.
      const out = fn(session.tx);
      value = (Array.isArray(out) ? await Promise.all(out) : await out) as Outcome<T>;
    } catch (err) {
      if (!session.lost()) await rollback(conn, session);
      throw err;
    }
    session.check();
    let done;
    try {
      done = await conn`COMMIT`;
    } catch (err) {
      // A COMMIT Postgres refuses (a serialization failure, a deferred check) ends the transaction too.
      idle = !isConnectionFailure(err);
      throw err;
    }
    idle = true;
    // COMMIT of a transaction a failed statement aborted answers ROLLBACK (fn caught the error).
    if (done.command !== "COMMIT") throw new TransactionAbortedError(session.failed() !== undefined ? { cause: session.failed() } : {});
    return value;
  } finally {
    // Back to the pool only when idle. A connection that closed was taken back by the pool as it
    // closed (postgres.js onclose: reserved cleared, and queued work may reconnect it at once), so
    // release() would hand it out again as open while it is dead or another caller's.
    if (idle) conn.release();
  }
}

/**
 * sql.reserve(), asked again when a connection of the pool closes meanwhile: the pool may have
 * forgotten the request then (pool-closes.ts). The first request to get a connection wins, and
 * the first to fail fails it (in an outage each failed connect rejects one request, so waiting for
 * the newest would answer late); the others' connections go back whenever they come.
 */
async function reserve(sql: Sql): Promise<postgres.ReservedSql<Types>> {
  const asked: Promise<postgres.ReservedSql<Types>>[] = [];
  let got: postgres.ReservedSql<Types> | void = undefined;
  try {
    while (!got) {
      asked.push(sql.reserve());
      const close = nextClose(sql);
      got = await Promise.race([...asked, close.closed]).finally(close.cancel);
    }
    return got;
  } finally {
    for (const p of asked) {
      void p.then(
        (c) => c !== got && c.release(),
        () => {},
      );
    }
  }
}

/** How long a failed transaction's caller waits for its ROLLBACK at most; the connection is released whenever it lands. */
const ROLLBACK_WAIT_MS = 2000;

/** ROLLBACK, and the connection back to the pool once it is done (and still this session's); a failed one keeps it out. */
async function rollback(conn: Sql & { release(): void }, session: Session): Promise<void> {
  const done = conn`ROLLBACK`.then(
    () => !session.lost(),
    () => false,
  );
  void done.then((idle) => idle && conn.release());
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([done, new Promise((resolve) => (timer = setTimeout(resolve, ROLLBACK_WAIT_MS)))]);
  clearTimeout(timer);
}

/** What a transaction's handle does not have (ReservedTx's type says so too). */
const HIDDEN = new Set<PropertyKey>(["begin", "reserve", "release"]);

interface Session {
  /** The handle `fn` gets: it refuses statements once the session is lost. */
  tx: ReservedTx;
  /** Whether a statement of the transaction failed for the connection, or the connection is another session now. */
  lost(): boolean;
  /** Throws StoreUnavailableError when lost. */
  check(): void;
  /** The first error a statement of the transaction failed with (the cause when COMMIT answers ROLLBACK). */
  failed(): unknown;
}

/** What a Query of postgres.js 3.4.9 calls to send itself (query.js handle()); replaced here on the handle's queries. */
type Sendable = { handler?: ((q: Sendable & Promise<unknown>) => unknown) & { debug?: unknown }; reject(err: unknown): void };

/**
 * The reserved connection, bound to the backend that ran BEGIN. Nothing more may be sent on it
 * once a statement failed for the connection: postgres.js keeps such a statement as its current
 * one after a socket error, and a statement sent then is never answered, or wedges the connection
 * when it reconnects. And postgres.js updates a connection's backend state (pid) in place when it
 * reconnects, which the pool does for queued work while a caller may still hold it reserved: a
 * statement sent then would run in that new session, outside this transaction (or in another
 * caller's). So each statement `fn` sends is checked as it is created and as it is sent, and its
 * failure noted.
 */
function sessionOf(conn: Sql, state: { pid: number | null } | undefined): Session {
  const pid = state?.pid;
  let broken = false;
  let firstFailure: unknown;
  const lost = () => broken || (state !== undefined && state.pid !== pid);
  const unavailable = () => new StoreUnavailableError({ cause: new Error(`transaction's connection (backend ${pid}) was lost`) });
  const check = () => {
    if (lost()) throw unavailable();
  };
  const note = (err: unknown) => {
    firstFailure ??= err;
    if (isConnectionFailure(err)) broken = true;
  };
  const guard = (q: unknown): unknown => {
    const query = q as Sendable;
    const send = query?.handler;
    if (typeof send !== "function") return q;
    const guarded = (x: Sendable & Promise<unknown>) => {
      if (lost()) return x.reject(unavailable());
      x.catch(note);
      return send(x);
    };
    guarded.debug = send.debug;
    query.handler = guarded;
    return q;
  };
  const tx = new Proxy(conn, {
    apply: (target, self, args): unknown => (check(), guard(Reflect.apply(target, self, args))),
    // Inside the transaction there is no begin, reserve or release (ReservedTx's type has none):
    // `fn` must not hand the connection back to the pool while its transaction is open.
    has: (target, key) => !HIDDEN.has(key) && Reflect.has(target, key),
    get: (target, key, receiver) => {
      if (HIDDEN.has(key)) return undefined;
      const v: unknown = Reflect.get(target, key, receiver);
      if (key !== "unsafe" && key !== "file") return v;
      return (...args: unknown[]) => (check(), guard((v as (...a: unknown[]) => unknown)(...args)));
    },
  });
  handles.add(tx);
  return { tx: tx as unknown as ReservedTx, lost, check, failed: () => firstFailure };
}
