// promtool, Prometheus' own checker, when it is installed (scripts/lib/setup.sh
// installs it on Debian); tests that need it are skipped otherwise.
import { spawnSync } from "node:child_process";

export const hasPromtool = spawnSync("promtool", ["--version"]).status === 0;

/** Runs promtool with `args` (and `input` on stdin); resolves its exit status and combined output. */
export function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const r = spawnSync("promtool", args, { input, encoding: "utf8", timeout: 30_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}
