import type { Tx } from "./db.js";
import { remainingMs } from "./errors.js";

/**
 * `SET LOCAL statement_timeout` to the time left before `deadline`, in the simple protocol. A
 * statement with parameters costs a Describe round trip on a connection that has not prepared it
 * (postgres.js describes first), and holds back every statement sent after it on that connection
 * until the answer is read: on a busy event loop that was most of a bulk's placement time. This
 * one pipelines. The number is computed here (an integer of milliseconds), never a caller's text.
 */
export function setLocalStatementTimeout(tx: Tx, deadline: number) {
  const ms = Math.ceil(remainingMs(deadline));
  if (!Number.isSafeInteger(ms)) throw new RangeError(`statement timeout: ${ms} ms is not a whole number of milliseconds`);
  return tx.unsafe(`SET LOCAL statement_timeout = ${ms}`);
}
