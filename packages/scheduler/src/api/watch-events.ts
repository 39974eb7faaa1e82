import { setTimeout as sleep } from "node:timers/promises";
import type { ServerWritableStream } from "@grpc/grpc-js";
import { Event, type WatchEventsRequest, type WatchEventsResponse } from "@drover/proto";
import { latestSeq, prunedThrough, readEvents } from "@drover/store";
import { EventsPrunedError, ValidationError } from "../errors.js";
import { streamStatus } from "./grpc-status.js";
import { validateSubjectPrefix } from "./validation.js";
import type { SchedulerContext } from "../context.js";
import { guardStream, READ, seesEveryProject, type GuardedStream, type Principal } from "../auth/index.js";

/** Project-scoped callers get their own project's VM events only: no node or audit events, nothing of other projects. */
const visibleTo = (who: Principal) =>
  seesEveryProject(who) ? () => true : (subject: string, payload: Record<string, unknown>) => subject.startsWith("drover.vm.") && payload.project === who.project;

/**
 * Streams sequenced outbox events: from the start, after a given id, or from
 * now on. Reads Postgres, so it works whether or not NATS is up.
 */
export async function watchEvents(
  ctx: SchedulerContext,
  call: ServerWritableStream<WatchEventsRequest, WatchEventsResponse>,
): Promise<void> {
  const req = call.request;
  let cancelled = false;
  call.on("cancelled", () => (cancelled = true));
  let guard: GuardedStream | undefined;
  try {
    guard = await guardStream(ctx, call, READ);
    const visible = visibleTo(guard.who);
    // A revoked or expired token ends the stream (guardStream answers it); a wait for drain ends with it.
    const ended = new Promise<void>((r) => guard!.onEnd(() => r()));
    validateSubjectPrefix("subject_prefix", req.subjectPrefix);
    let cursor = req.fromStart ? 0 : req.afterId || (await latestSeq(ctx.sql));
    if (req.afterId > 0 && !req.fromStart) {
      // Resuming from before what retention deleted would skip events without a word.
      const gone = await prunedThrough(ctx.sql);
      if (req.afterId < gone) {
        throw new EventsPrunedError(gone, req.afterId, ctx.config.eventRetentionMs);
      }
      // An id no event has had yet (another cluster's, a typo) would wait for ids that may never come.
      const last = Math.max(await latestSeq(ctx.sql), gone);
      if (req.afterId > last) {
        throw new ValidationError("after_id", `is ${req.afterId}, beyond the last event id ${last}; use an id a watch delivered, from_start, or 0 for new events`);
      }
    }
    while (!cancelled && !guard.ended && !ctx.stopping()) {
      const batch = await readEvents(ctx.sql, cursor, 500, req.subjectPrefix);
      for (const e of batch) {
        if (guard.ended) break;
        cursor = e.seq;
        if (!visible(e.subject, e.payload)) continue;
        const ok = call.write({ event: Event.fromJSON({ ...e.payload, id: e.seq, subject: e.subject }) });
        if (!ok) await Promise.race([new Promise((r) => call.once("drain", r)), ended]);
      }
      if (batch.length < 500) await Promise.race([sleep(ctx.config.tickMs), ended]);
    }
    if (!guard.ended) call.end();
  } catch (err) {
    // grpc-js sends a status for an 'error' event; destroy() would close the stream without one,
    // leaving the client waiting.
    if (!guard?.ended) call.emit("error", streamStatus(err, call.getPath(), ctx.log));
  } finally {
    guard?.release();
  }
}
