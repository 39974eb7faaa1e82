import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { USAGE } from "@drover/agent";
import { schedulerUsage } from "@drover/scheduler";

// The built programs, as operators run them: --help prints the option table, and a bad value
// stops the program before it starts anything, naming the setting.
const main = (pkg: string) => fileURLToPath(new URL(`../../packages/${pkg}/dist/main.js`, import.meta.url));

function run(pkg: string, args: string[], env: Record<string, string> = {}) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("DROVER_")));
  const r = spawnSync(process.execPath, [main(pkg), ...args], { env: { ...clean, ...env }, encoding: "utf8", timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("drover-scheduler and drover-agent configuration", () => {
  it("drover-scheduler --help prints the scheduler's table", () => {
    expect(run("scheduler", ["--help"])).toEqual({ code: 0, stdout: `${schedulerUsage()}\n`, stderr: "" });
  });

  it("drover-agent --help prints the agent's table", () => {
    expect(run("agent", ["--help"])).toEqual({ code: 0, stdout: `${USAGE}\n`, stderr: "" });
  });

  it("drover-scheduler refuses a bad value, warning once about a deprecated name first", () => {
    const r = run("scheduler", [], { DROVER_HEARTBEAT_INTERVAL_SECONDS: "2", DROVER_TICK_MS: "2s" });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "drover-scheduler: warning: DROVER_HEARTBEAT_INTERVAL_SECONDS is deprecated and will be removed: use DROVER_HEARTBEAT_INTERVAL_MS (in ms, not seconds)\n" +
        'drover-scheduler: DROVER_TICK_MS="2s": expected an integer from 10 to 60000 (ms)\n',
    );
  });

  it("drover-scheduler refuses arguments other than --help", () => {
    const r = run("scheduler", ["--listen", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown argument "--listen"; settings are DROVER_\* variables, see --help/);
  });

  it("drover-agent refuses a bad flag value, naming the flag and its variable", () => {
    const r = run("agent", ["--heartbeat-ms", "0"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('drover-agent: --heartbeat-ms (DROVER_HEARTBEAT_MS)="0": expected an integer from 1 to 3600000 (ms)\n');
  });

  it("drover-scheduler refuses to start without the cluster CA unless DROVER_INSECURE=1, saying how to make one, before opening a database", () => {
    const r = run("scheduler", [], { DROVER_LISTEN: "127.0.0.1:0", DROVER_METRICS_LISTEN: "", DROVER_NATS_URL: "" });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("DROVER_TLS_DIR is not set: create the cluster CA with `drover-scheduler ca create --dir DIR`");
    expect(r.stdout).not.toContain("database:");
    const missing = run("scheduler", [], { DROVER_TLS_DIR: "/nonexistent/tls", DROVER_LISTEN: "127.0.0.1:0", DROVER_METRICS_LISTEN: "", DROVER_NATS_URL: "" });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("/nonexistent/tls/ca.pem is missing");
  });

  it("drover-scheduler join-token create needs the database URL and refuses a flag without its value", () => {
    const token = run("scheduler", ["join-token", "create", "--name", "kvm-07"]);
    expect(token.code).toBe(2);
    expect(token.stdout).toContain("needs DROVER_DATABASE_URL");
    const bad = run("scheduler", ["join-token", "create", "--ttl"]);
    expect(bad.code).toBe(2);
  });
});
