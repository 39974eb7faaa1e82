import { setImmediate as nextTurn } from "node:timers/promises";
import type { Sql, Tx } from "./db.js";
import { DeadlineExceededError, remainingMs } from "./errors.js";
import { INSERT_FAN_OUT_VM_EVENTS } from "./event-sql.js";
import { asCommitError, placementsStatement, type PlacedRequests } from "./placements.js";
import { scheduledVmsInsert, type NewVm } from "./vms.js";

/** A bulk of more VMs than this commits in statements of this many (commitPlacementsInChunks). */
export const COMMIT_CHUNK_VMS = 2500;

const ignore = () => {};

/**
 * Commits what commitPlacements does, all or nothing, in one transaction of several statements,
 * so the client's work and Postgres's overlap: the first statement is commitPlacements's (the
 * request rows, every claim and the quota with their checks, the audit event, the first
 * `chunkVms` VM rows and their events); each later one inserts the next chunk's rows and events.
 * Postgres runs the statements one after the other on the connection while the client builds the
 * next chunk's parameters, and `whileCommitting` (called with the rows' creation time once the
 * first statement succeeded: `now()` is the transaction's, the same for every row) builds the
 * response meanwhile. Its result is returned only if the transaction commits.
 * A refused claim or quota refuses the first statement; the transaction then rolls back whole and
 * the refusal surfaces as commitPlacements's would. The deadline bounds every statement
 * (statement_timeout) and is checked again before COMMIT. VMs naming groups are not taken: their
 * check needs every member in one statement (commitPlacements).
 */
export async function commitPlacementsInChunks<T>(
  sql: Sql,
  placed: PlacedRequests,
  deadline: number,
  whileCommitting: (createdAt: Date) => T,
  chunkVms = COMMIT_CHUNK_VMS,
): Promise<T> {
  if (placed.vms.some((v) => (v.groups?.length ?? 0) > 0)) throw new Error("commitPlacementsInChunks: VMs with groups commit in one statement");
  let first: ReturnType<typeof placementsStatement> | undefined;
  try {
    const done = await sql.begin(async (tx) => {
      const pending: Promise<unknown>[] = [];
      const send = <R>(query: PromiseLike<R>): Promise<R> => {
        // then() sends it; the rejection is handled here and rethrown where it is awaited.
        const p = Promise.resolve(query);
        p.catch(ignore);
        pending.push(p);
        return p;
      };
      if (Number.isFinite(deadline)) void send(tx`SELECT set_config('statement_timeout', ${String(Math.ceil(remainingMs(deadline)))}, true)`);
      first = placementsStatement(tx, { ...placed, vms: placed.vms.slice(0, chunkVms) }, deadline);
      const created = send(first.query);
      for (let i = chunkVms; i < placed.vms.length; i += chunkVms) {
        // One turn of the event loop: the statement before this one is written out, and Postgres starts on it.
        await nextTurn();
        void send(vmChunkInsert(tx, placed.vms.slice(i, i + chunkVms)));
      }
      const result = whileCommitting((await created)[0]!.created_at);
      await Promise.all(pending);
      // No COMMIT after the deadline: throwing here rolls the transaction back.
      remainingMs(deadline);
      return { result };
    });
    return done.result;
  } catch (err) {
    // 57014: the statement_timeout set from the deadline cancelled a statement.
    if ((err as { code?: string }).code === "57014" && deadline <= Date.now()) throw new DeadlineExceededError({ cause: err });
    throw first ? await asCommitError(sql, err, first) : err;
  }
}

/** The rows of VMs without groups, SCHEDULED, and their events (fan-out rows), in one statement. */
function vmChunkInsert(tx: Tx, vms: NewVm[]) {
  return tx`
    WITH v AS (${scheduledVmsInsert(tx, [], vms)}),
    e AS (${tx.unsafe(INSERT_FAN_OUT_VM_EVENTS)})
    SELECT count(*)::int AS n FROM v`;
}
