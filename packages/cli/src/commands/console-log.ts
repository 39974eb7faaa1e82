// drover vm console-log ID [--follow]: the VM's serial console, as its host logged it.
import { StringDecoder } from "node:string_decoder";
import * as grpc from "@grpc/grpc-js";
import type { GetConsoleLogResponse } from "@drover/proto";
import { type Command, GLOBAL_FLAGS_HELP, bool } from "../command.js";

export const consoleLogCommand: Command = {
  name: "console-log",
  summary: "print a VM's serial console output",
  usage: `Usage: drover vm console-log ID [--follow]

Prints what the VM wrote to its serial console (boot messages, a login prompt,
kernel panics), as its host logged it: at most the last MiB.

  --follow   keep printing new output until interrupted (Ctrl-C) or the VM is gone

${GLOBAL_FLAGS_HELP}
`,
  args: ["ID"],
  options: { follow: { type: "boolean" } },
  run(ctx, args, values) {
    const follow = bool(values, "follow");
    const c = ctx.clients();
    // Following has no deadline: the stream is meant to stay open.
    const options = follow ? {} : { deadline: new Date(Date.now() + ctx.timeoutMs) };
    const call = c.vm.getConsoleLog({ id: args[0]!, follow }, new grpc.Metadata(), options);
    // Console bytes arrive in arbitrary chunks; a UTF-8 character may span two.
    const text = new StringDecoder("utf8");
    return new Promise<number>((resolve, reject) => {
      let done = false;
      const finish = (f: () => void) => {
        if (done) return;
        done = true;
        ctx.signal?.removeEventListener("abort", onAbort);
        const rest = text.end();
        if (rest) ctx.io.stdout(rest);
        f();
      };
      const onAbort = () => {
        finish(() => resolve(0));
        call.cancel();
      };
      call.on("data", (res: GetConsoleLogResponse) => ctx.io.stdout(text.write(Buffer.from(res.data))));
      call.on("error", (err: grpc.ServiceError) => {
        if (err.code === grpc.status.CANCELLED && ctx.signal?.aborted) finish(() => resolve(0));
        else finish(() => reject(err));
      });
      call.on("end", () => finish(() => resolve(0)));
      if (ctx.signal?.aborted) onAbort();
      else ctx.signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};
