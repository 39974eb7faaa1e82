import { setImmediate as nextTurn } from "node:timers/promises";
import type { Sql, Tx } from "./db.js";
import { DeadlineExceededError, remainingMs } from "./errors.js";
import { INSERT_FAN_OUT_VM_EVENTS } from "./event-sql.js";
import { asCommitError, placementsStatement, projectUseOf, type PlacedRequests } from "./placements.js";
import { sumUseByProject, type ProjectUse } from "./quota.js";
import { scheduledVmsInsert, type NewVm } from "./vms.js";
import { setLocalStatementTimeout } from "./statement-timeout.js";
import { transaction } from "./transaction.js";

/** A bulk of more VMs than this commits in statements of this many (commitPlacementsInChunks). */
export const COMMIT_CHUNK_VMS = 2500;

/**
 * A bulk's VM rows as the caller places them, a chunk at a time, for commitPlacementsInChunks.
 * `next()` is called while Postgres inserts the chunk before: the caller places the next chunk then.
 */
export interface PlacementChunks<T> {
  /**
   * The next chunk's rows (VMs without groups), and whether no chunk follows. It may take the
   * event loop back while it places (a promise): the statements sent go on meanwhile.
   */
  next(): { vms: NewVm[]; last: boolean } | Promise<{ vms: NewVm[]; last: boolean }>;
  /** After the last chunk: the request rows, every chunk's claims and the audit events. */
  finish(): Omit<PlacedRequests, "vms">;
  /**
   * Builds the answer while the last statements run, from the rows' creation time (`now()`: the
   * transaction's, the same for every row). Its result is returned only if the transaction commits.
   */
  whileCommitting(createdAt: Date): T | Promise<T>;
}

const ignore = () => {};

/**
 * Commits what commitPlacements does, all or nothing, in one transaction of several statements,
 * so the caller's work and Postgres's overlap: one statement inserts each chunk's VM rows and
 * their events as the caller places it (`next()` runs while Postgres inserts the chunk before),
 * and the last one is commitPlacements's for the last chunk: the request rows, every claim and
 * the quota of all chunks' VMs with their checks, the audit event. Claims come last, so the nodes
 * are locked (in name order) only for the end of the transaction, and the VM rows before them
 * take only the KEY SHARE locks of their references, which no claim waits for.
 * A refused claim or quota, a failed chunk or an error thrown by `next()` rolls the transaction
 * back whole; a refusal surfaces as commitPlacements's would. The deadline bounds every
 * statement (statement_timeout) and is checked again before COMMIT. VMs naming groups are not
 * taken: their check needs every member in one statement (commitPlacements).
 */
export async function commitPlacementsInChunks<T>(sql: Sql, chunks: PlacementChunks<T>, deadline: number): Promise<T> {
  let last: ReturnType<typeof placementsStatement> | undefined;
  try {
    const done = await transaction(sql, async (tx) => {
      const pending: Promise<unknown>[] = [];
      const send = <R>(query: PromiseLike<R>): Promise<R> => {
        // then() sends it; the rejection is handled here and rethrown where it is awaited.
        const p = Promise.resolve(query);
        p.catch(ignore);
        pending.push(p);
        return p;
      };
      try {
        if (Number.isFinite(deadline)) void send(setLocalStatementTimeout(tx, deadline));
        const uses: ProjectUse[] = [];
        let created: Promise<{ created_at: Date }[]> | undefined;
        for (;;) {
          const chunk = await chunks.next();
          if (chunk.vms.some((v) => (v.groups?.length ?? 0) > 0)) throw new Error("commitPlacementsInChunks: VMs with groups commit in one statement");
          uses.push(...projectUseOf(chunk.vms));
          if (chunk.last) {
            last = placementsStatement(tx, { ...chunks.finish(), vms: chunk.vms }, deadline, sumUseByProject(uses));
            const sent = send(last.query);
            created ??= sent;
            break;
          }
          const sent = send(vmChunkInsert(tx, chunk.vms));
          created ??= sent;
          // One turn of the event loop: the statement is written out, and Postgres starts on it.
          await nextTurn();
        }
        const result = await chunks.whileCommitting((await created)[0]!.created_at);
        await Promise.all(pending);
        // No COMMIT after the deadline: throwing here rolls the transaction back.
        remainingMs(deadline);
        return { result };
      } catch (err) {
        // The ROLLBACK goes after the statements sent: let them end first.
        await Promise.allSettled(pending);
        throw err;
      }
    });
    return done.result;
  } catch (err) {
    // 57014: the statement_timeout set from the deadline cancelled a statement.
    if ((err as { code?: string }).code === "57014" && deadline <= Date.now()) throw new DeadlineExceededError({ cause: err });
    throw last ? await asCommitError(sql, err, last) : err;
  }
}

/** The rows of VMs without groups, SCHEDULED, and their events (fan-out rows), in one statement; the rows' creation time. */
function vmChunkInsert(tx: Tx, vms: NewVm[]) {
  return tx<{ created_at: Date }[]>`
    WITH v AS (${scheduledVmsInsert(tx, [], vms)}),
    e AS (${tx.unsafe(INSERT_FAN_OUT_VM_EVENTS)})
    SELECT now() AS created_at, (SELECT count(*)::int FROM v) AS n`;
}
