// drover events: follow WatchEvents until interrupted.
import * as grpc from "@grpc/grpc-js";
import { Event, type WatchEventsResponse } from "@drover/proto";
import { type Command, GLOBAL_FLAGS_HELP, parsed, str, bool } from "../command.js";
import { eventLine } from "../format.js";
import { parseCount } from "../units.js";

export const eventsCommand: Command = {
  name: "events",
  summary: "follow scheduler events until interrupted",
  usage: `Usage: drover events [--from-start] [--after ID] [--prefix SUBJECT-PREFIX]

Streams state-change events, one line each, until interrupted (Ctrl-C).
With -o json, prints one JSON Event object per line.

  --from-start      begin with the oldest retained event (default: only new events)
  --after ID        begin after event ID
  --prefix PREFIX   only subjects starting with PREFIX, e.g. drover.vm. or drover.node.

${GLOBAL_FLAGS_HELP}
`,
  args: [],
  options: { "from-start": { type: "boolean" }, after: { type: "string" }, prefix: { type: "string" } },
  run(ctx, _args, values) {
    const afterId = parsed(values, "after", (x) => parseCount(x, 0, Number.MAX_SAFE_INTEGER), "events") ?? 0;
    const request = { afterId, fromStart: bool(values, "from-start"), subjectPrefix: str(values, "prefix") ?? "" };
    const c = ctx.clients();
    // No deadline: the stream is meant to stay open.
    const call = c.vm.watchEvents(request);
    return new Promise<number>((resolve, reject) => {
      let done = false;
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        ctx.signal?.removeEventListener("abort", onAbort);
        f();
      };
      const onAbort = () => {
        finish(() => resolve(0));
        call.cancel();
      };
      call.on("data", (res: WatchEventsResponse) => {
        if (!res.event) return;
        ctx.io.stdout(ctx.output === "json" ? JSON.stringify(Event.toJSON(res.event)) + "\n" : eventLine(res.event) + "\n");
      });
      call.on("error", (err: grpc.ServiceError) => {
        if (err.code === grpc.status.CANCELLED && ctx.signal?.aborted) finish(() => resolve(0));
        else finish(() => reject(err));
      });
      call.on("end", () => {
        finish(() => {
          ctx.io.stderr("event stream closed by the scheduler\n");
          resolve(0);
        });
      });
      if (ctx.signal?.aborted) onAbort();
      else ctx.signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};
