#!/usr/bin/env node
// drover-agent: runs the node agent from environment variables and flags.
import { startAgent } from "./agent.js";
import { USAGE, configFromEnv } from "./config.js";

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = configFromEnv(process.env, argv);
  const agent = await startAgent(config, { processMetrics: true });
  let first: string | undefined;
  const say = (m: string) => process.stderr.write(`[drover-agent ${agent.name}] ${m}\n`);
  const stillOpen = () => agent.shutdownOpen().join(", ") || "nothing";
  const shutdown = (signal: NodeJS.Signals) => {
    // A second signal means "now": don't wait for in-flight calls.
    if (first !== undefined) {
      say(`${signal} while stopping: exiting now; still open: ${stillOpen()}`);
      // Die of the signal itself (a shell shows 128 + its number): process.exit() can hang, see below.
      process.removeAllListeners(signal);
      process.kill(process.pid, signal);
      return;
    }
    first = signal;
    say(`${signal}: stopping`);
    // The scheduler calls have deadlines, libvirt calls none: a hung libvirtd must not hold the agent.
    // Nor process.exit(): libuv joins its threads at exit, and one waits in libvirt for ever. So SIGKILL.
    setTimeout(() => {
      say(`not stopped ${config.shutdownLimitMs} ms after ${signal}: killing itself; still open: ${stillOpen()}`);
      process.kill(process.pid, "SIGKILL");
    }, config.shutdownLimitMs);
    agent.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        say(`stop failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
}

main().catch((err: unknown) => {
  process.stderr.write(`drover-agent: ${(err as Error).message}\n`);
  process.exit(1);
});
