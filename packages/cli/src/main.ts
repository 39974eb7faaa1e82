#!/usr/bin/env node
// The drover executable: run() with the real process, Ctrl-C as an abort.
import { run } from "./run.js";

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
