#!/usr/bin/env node
// The drover executable: run() with the real process, Ctrl-C as an abort.
import { run } from "./run.js";

// grpc-js gives TLS the dialed host as servername, and Node warns (DEP0123) when that is an IP
// address: noise on every run of a CLI. The certificate is still checked against the address.
process.removeAllListeners("warning");
process.on("warning", (w: Error & { code?: string }) => {
  if (w.code !== "DEP0123") process.stderr.write(`${w.name}: ${w.message}\n`);
});

const interrupt = new AbortController();
// The first Ctrl-C stops `events` cleanly / cancels the pending request; a second one kills.
process.once("SIGINT", () => interrupt.abort());

process.exitCode = await run(
  process.argv.slice(2),
  process.env,
  {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
  },
  { signal: interrupt.signal },
);
