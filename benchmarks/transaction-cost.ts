// What a small transaction costs through transaction() (store transaction.ts: sql.reserve(), BEGIN,
// the statement, COMMIT, release) against postgres.js's sql.begin(), which it replaced in production
// code. One transaction: BEGIN, one INSERT of a row by key, COMMIT. Two set-ups: one connection
// taking transactions one after another, and a pool of 20 under 64 concurrent callers. Variants
// interleaved A B B A in each round (A = sql.begin, before; B = transaction(), after); wall time per
// transaction and this process's CPU per transaction. sql.begin's UNSAFE_TRANSACTION failures are counted.
//   node --import tsx benchmarks/transaction-cost.ts [--transactions=4000] [--rounds=2]
import { connect, transaction, type Db, type Sql } from "@drover/store";
import { openTestDatabase } from "@drover/store/testing";
import { median, table } from "./common.js";
import { numberFlag } from "./flags.js";

const TRANSACTIONS = numberFlag("transactions", 4000, { positive: true });
const ROUNDS = numberFlag("rounds", 2, { positive: true });
const db = await openTestDatabase({ max: 1 });
await db.sql`CREATE TABLE bench_tx (k bigint PRIMARY KEY, at timestamptz NOT NULL DEFAULT now())`;

type Variant = "A sql.begin" | "B transaction()";
let key = 0;
const body = (tx: Db) => tx`INSERT INTO bench_tx (k) VALUES (${key++})`;
const run: Record<Variant, (sql: Sql) => Promise<unknown>> = {
  "A sql.begin": (sql) => sql.begin((tx) => body(tx)),
  "B transaction()": (sql) => transaction(sql, (tx) => body(tx)),
};

/** `count` transactions by `callers` concurrent callers; wall and CPU µs per transaction, failures. */
async function measure(sql: Sql, variant: Variant, count: number, callers: number) {
  let next = 0;
  let failed = 0;
  const cpu = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (next++ < count) await run[variant](sql).catch(() => failed++);
    }),
  );
  const wall = performance.now() - t0;
  const used = process.cpuUsage(cpu);
  return { wallUs: (wall * 1000) / count, cpuUs: (used.user + used.system) / count, failed };
}

const setups = [
  { name: "1 connection, 1 caller", max: 1, callers: 1, count: Math.round(TRANSACTIONS / 2) },
  { name: "pool 20, 64 callers", max: 20, callers: 64, count: TRANSACTIONS * 2 },
];
const rows: (string | number)[][] = [];
const summary = new Map<string, number[]>();
for (const s of setups) {
  const sql = connect(db.url, { max: s.max });
  // Warm-up: connections open, statements prepared.
  for (const v of ["A sql.begin", "B transaction()"] as const) await measure(sql, v, s.callers * 20, s.callers);
  for (let r = 0; r < ROUNDS; r++) {
    for (const v of ["A sql.begin", "B transaction()", "B transaction()", "A sql.begin"] as const) {
      const m = await measure(sql, v, s.count, s.callers);
      rows.push([s.name, r + 1, v, m.wallUs.toFixed(1), m.cpuUs.toFixed(1), m.failed]);
      const k = `${s.name}|${v}`;
      summary.set(k, [...(summary.get(k) ?? []), m.wallUs]);
    }
  }
  await sql.end();
}
console.log(table(["set-up", "round", "variant", "wall µs/tx", "process CPU µs/tx", "failed"], rows));
console.log();
console.log(table(["set-up", "variant", "median wall µs/tx"], [...summary].map(([k, xs]) => [...k.split("|"), median(xs).toFixed(1)])));
await db.close();
