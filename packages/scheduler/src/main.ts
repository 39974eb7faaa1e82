#!/usr/bin/env node
// drover-scheduler: configuration from DROVER_* environment variables (--help lists them).
import { constants as osConstants } from "node:os";
import { configFromEnv, schedulerUsage } from "./config.js";
import { startScheduler } from "./server.js";
import { runTlsCommand } from "./tls/commands.js";

/** After the grace, cutting the pools and closing the rest takes well under a second; this is the margin before giving up. */
const SHUTDOWN_MARGIN_MS = 5000;

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
  const config = configFromEnv(process.env);
  const scheduler = await startScheduler(config, log);
  log(`scheduler: gRPC on ${scheduler.address}${scheduler.metricsAddress ? `, metrics on http://${scheduler.metricsAddress}/metrics` : ""}`);
  exitOnSignals(scheduler, config.shutdownGraceMs);
} catch (err) {
  console.error(`drover-scheduler: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

/**
 * The first SIGTERM or SIGINT stops the replica (stop(): a grace for open work, then the database
 * is cut); it exits 0, or 1 when the database had to be cut. A stop still running SHUTDOWN_MARGIN_MS
 * past the grace is given up, with what it waited on in the log, status 1. A second signal exits at once (128 + the signal's number, as a shell).
 */
function exitOnSignals(scheduler: Awaited<ReturnType<typeof startScheduler>>, graceMs: number): void {
  let first: string | undefined;
  const onSignal = (signal: NodeJS.Signals) => {
    if (first !== undefined) {
      log(`scheduler: ${signal} while stopping: exiting now; still open: ${scheduler.shutdownOpen().join(", ") || "nothing"}`);
      process.exit(128 + (osConstants.signals[signal] ?? 0));
    }
    first = signal;
    log(`scheduler: ${signal}, shutting down (grace ${graceMs} ms)`);
    setTimeout(() => {
      log(`scheduler: not stopped ${graceMs + SHUTDOWN_MARGIN_MS} ms after ${signal}: exiting; still open: ${scheduler.shutdownOpen().join(", ") || "nothing"}`);
      process.exit(1);
    }, graceMs + SHUTDOWN_MARGIN_MS);
    scheduler.stop().then(
      ({ cut }) => {
        // Work cut off is work not finished (a create's commit, a dispatch): a supervisor should know.
        if (cut) log(`scheduler: stopped after cutting the database; cut off: ${cut.join(", ") || "nothing"}`);
        process.exit(cut ? 1 : 0);
      },
      (err: unknown) => {
        log(`scheduler: stop failed: ${err instanceof Error ? err.message : String(err)}`);
        process.exit(1);
      },
    );
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
}
