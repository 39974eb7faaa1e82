import postgres from "postgres";

export type Sql = postgres.Sql<{ bigint: number }>;
export type Tx = postgres.TransactionSql<{ bigint: number }>;
/** Either a pool or an open transaction: queries take whichever they are given. */
export type Db = Sql | Tx;

export interface ConnectOptions {
  /** Pool size; the embedded database serves one session, so it uses 1. */
  max?: number;
}

/** Opens a postgres.js pool. int8 columns come back as numbers: our values stay far below 2^53. */
export function connect(url: string, options: ConnectOptions = {}): Sql {
  return postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    types: {
      bigint: { to: 20, from: [20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) },
    },
  }) as unknown as Sql;
}
