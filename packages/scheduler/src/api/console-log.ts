import { type ServerWritableStream, type ServiceError, status } from "@grpc/grpc-js";
import type { GetConsoleLogRequest, GetConsoleLogResponse } from "@drover/proto";
import { agentCallError } from "../dispatch/agent-clients.js";
import type { SchedulerContext } from "../context.js";
import { streamStatus } from "./grpc-status.js";
import { agentOf } from "../vms/power.js";
import { mustGetVm } from "../vms/read-vm.js";
import { validateId } from "./validation.js";
import { guardStream, READ, requireVisibleVm, type GuardedStream } from "../auth/index.js";

/**
 * Relays the VM's console log from its node's agent (ReadConsoleLog), which keeps it on the
 * host. A client that goes away cancels the agent's stream too.
 */
export async function getConsoleLog(ctx: SchedulerContext, call: ServerWritableStream<GetConsoleLogRequest, GetConsoleLogResponse>): Promise<void> {
  let cancelled = false;
  call.on("cancelled", () => (cancelled = true));
  let guard: GuardedStream | undefined;
  try {
    guard = await guardStream(ctx, call, READ);
    const who = guard.who;
    validateId("id", call.request.id);
    const vm = await mustGetVm(ctx.sql, call.request.id);
    requireVisibleVm(who, vm, call.request.id);
    // A VM still being created or already failed may have a domain (and a log) too, but only
    // these states promise one.
    const agent = await agentOf(ctx, vm, ["RUNNING", "STOPPED", "STOPPING", "PAUSED", "CRASHED"]);
    const upstream = ctx.agents.readConsoleLog(agent, vm.id, call.request.follow);
    call.on("cancelled", () => upstream.cancel());
    // A revoked or expired token ends the relay (guardStream answers the client).
    guard.onEnd(() => upstream.cancel());
    const ending = guard;
    await new Promise<void>((resolve, reject) => {
      upstream.on("data", (r: GetConsoleLogResponse) => {
        if (call.write({ data: r.data })) return;
        upstream.pause();
        call.once("drain", () => upstream.resume());
      });
      upstream.on("end", resolve);
      upstream.on("error", (e: ServiceError) => ((cancelled || ending.ended) && e.code === status.CANCELLED ? resolve() : reject(agentCallError(agent.name, e))));
    });
    if (!cancelled && !guard.ended) call.end();
  } catch (err) {
    // grpc-js sends a status for an 'error' event; end() would report OK.
    if (!guard?.ended) call.emit("error", streamStatus(err, call.getPath(), ctx.log));
  } finally {
    guard?.release();
  }
}
