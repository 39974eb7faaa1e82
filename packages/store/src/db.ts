import postgres from "postgres";
import { tlsFromUrl } from "./tls-url.js";
import { parseTimestamptz } from "./timestamps.js";
import { closeWatch } from "./pool-closes.js";

export type Types = { bigint: number; timestamptz: Date };
export type Sql = postgres.Sql<Types>;
declare const inTransaction: unique symbol;
/** A connection transaction() reserved, inside its transaction (transaction.ts); no begin, no release. */
export type ReservedTx = postgres.ISql<Types> & { readonly [inTransaction]: true };
/** An open transaction: transaction()'s, or sql.begin's where a test sets up data with it. */
export type Tx = ReservedTx | postgres.TransactionSql<Types>;
/** Either a pool or an open transaction: queries take whichever they are given. */
export type Db = Sql | Tx;

export interface ConnectOptions {
  /** Pool size; the embedded database serves one session, so it uses 1. */
  max?: number;
  /**
   * postgres.js max_pipeline: statements sent on a connection before their answers (default 100).
   * Tests set 0, where sql.begin() always skips reserving its connection (transaction.test.ts).
   */
  maxPipeline?: number;
  /** Called with every statement sent and its parameters (tests EXPLAIN what the store runs). */
  debug?: (query: string, parameters: unknown[]) => void;
}

/**
 * Opens a postgres.js pool. int8 columns come back as numbers: our values stay far below 2^53.
 * A `host=/dir` query parameter connects through the Unix socket in /dir, as with libpq, and
 * sslmode with sslrootcert, sslcert and sslkey set up TLS as libpq would (tls-url.ts).
 */
export function connect(url: string, options: ConnectOptions = {}): Sql {
  const tls = tlsFromUrl(url);
  const socket = unixSocket(tls.url);
  const closes = closeWatch();
  const sql = postgres(socket.url, {
    path: socket.path,
    ...(tls.ssl !== undefined ? { ssl: tls.ssl } : {}),
    max: options.max ?? 10,
    ...(options.maxPipeline !== undefined ? { max_pipeline: options.maxPipeline } : {}),
    backoff: reconnectDelaySeconds,
    onnotice: () => {},
    onclose: closes.onclose,
    ...(options.debug ? { debug: (_connection: number, query: string, parameters: unknown[]) => options.debug!(query, parameters) } : {}),
    types: {
      bigint: { to: 20, from: [20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) },
      // Read with their microseconds (timestamps.ts); written as Dates are by default.
      timestamptz: { to: 1184, from: [1184], serialize: (v: Date) => v.toISOString(), parse: parseTimestamptz },
    },
  });
  closes.attach(sql);
  return sql;
}

/**
 * How long a pooled connection waits before it connects again after failing, by failures in a
 * row: 50 ms doubling up to 500 ms. postgres.js's own backoff grows to 20 s, and a query waits for
 * its connection's delay: during and after a Postgres restart requests hung until their
 * deadline (UNAVAILABLE came seconds late) and heartbeats went unrecorded for seconds after the
 * database was back. With this, a query in an outage fails within half a second, and the pool is
 * back within half a second of the database.
 */
export function reconnectDelaySeconds(failures: number): number {
  return Math.min(0.05 * 2 ** Math.max(0, failures - 1), 0.5);
}

/**
 * libpq's `?host=/var/run/postgresql` (a Unix-socket directory), which
 * postgres.js would send to the server as a setting. A socket saves a Postgres
 * on the same machine the TCP stack on every round trip.
 */
export function unixSocket(url: string): { url: string; path?: string } {
  const u = new URL(url);
  const dir = u.searchParams.get("host");
  if (!dir?.startsWith("/")) return { url };
  u.searchParams.delete("host");
  return { url: u.toString(), path: `${dir.replace(/\/$/, "")}/.s.PGSQL.${u.port || 5432}` };
}
