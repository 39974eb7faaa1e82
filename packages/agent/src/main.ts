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
  const agent = await startAgent(configFromEnv(process.env, argv), { processMetrics: true });
  let signals = 0;
  const shutdown = (signal: string) => {
    // A second signal means "now": don't wait for in-flight calls.
    if (++signals > 1) process.exit(130);
    process.stderr.write(`[drover-agent ${agent.name}] ${signal}: stopping\n`);
    agent.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        process.stderr.write(`[drover-agent ${agent.name}] stop failed: ${(err as Error).message}\n`);
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
