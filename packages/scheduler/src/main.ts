#!/usr/bin/env node
// drover-scheduler: configuration from DROVER_* environment variables (--help lists them).
import { configFromEnv, schedulerUsage } from "./config.js";
import { startScheduler } from "./server.js";
import { runTlsCommand } from "./tls/commands.js";

const log = (m: string) => console.log(`${new Date().toISOString()} ${m}`);

const args = process.argv.slice(2);
if (args.includes("--help") || args.includes("-h")) {
  process.stdout.write(`${schedulerUsage()}\n`);
  process.exit(0);
}
const commandExit = await runTlsCommand(args, process.env, (m) => console.log(m), (m) => console.error(m));
if (commandExit !== undefined) process.exit(commandExit);
if (args.length > 0) {
  console.error(`drover-scheduler: unknown argument ${JSON.stringify(args[0])}; settings are DROVER_* variables, see --help`);
  process.exit(2);
}

try {
  const scheduler = await startScheduler(configFromEnv(process.env), log);
  log(`scheduler: gRPC on ${scheduler.address}${scheduler.metricsAddress ? `, metrics on http://${scheduler.metricsAddress}/metrics` : ""}`);
  const shutdown = async (signal: string) => {
    log(`scheduler: ${signal}, shutting down`);
    await scheduler.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => void shutdown("SIGINT"));
  process.once("SIGTERM", () => void shutdown("SIGTERM"));
} catch (err) {
  console.error(`drover-scheduler: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
