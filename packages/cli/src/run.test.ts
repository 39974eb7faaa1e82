// Command-line parsing and usage errors: none of these reach the network.
import { describe, expect, it } from "vitest";
import { GLOBAL_FLAGS_HELP } from "./command.js";
import { COMMANDS, run } from "./run.js";
import { buildCreateRequest } from "./commands/vm.js";

async function drover(...argv: string[]) {
  let stdout = "";
  let stderr = "";
  // An address nothing listens on: a test that wrongly dials fails with UNAVAILABLE (exit 1).
  const code = await run(argv, { DROVER_ADDR: "127.0.0.1:1", DROVER_INSECURE: "1", HOME: "/nonexistent-drover-home" }, { stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

const VALID = ["vm", "create", "web", "--vcpus", "2", "--memory", "4G"];

describe("usage errors exit 2 and name the argument and the rule", () => {
  it.each([
    { argv: ["vm", "create"], want: "missing required argument NAME" },
    { argv: ["vm", "create", "web"], want: "--vcpus is required" },
    { argv: ["vm", "create", "web", "--vcpus", "2"], want: "--memory is required" },
    { argv: [...VALID.slice(0, 4), "0", "--memory", "4G"], want: "--vcpus: must be a whole number >= 1, got 0" },
    { argv: [...VALID.slice(0, 4), "two", "--memory", "4G"], want: '--vcpus: must be a whole number >= 1, got "two"' },
    { argv: [...VALID.slice(0, 6), "abc"], want: '--memory: invalid size "abc": expected a number with an optional unit M, G or T' },
    { argv: [...VALID.slice(0, 6), "0"], want: '--memory: must be greater than 0, got "0"' },
    { argv: [...VALID.slice(0, 6), "100K"], want: '--memory: invalid size "100K": unknown unit "K"' },
    { argv: [...VALID, "--disk", "500M"], want: '--disk: invalid size "500M": must be a whole number of GiB' },
    { argv: [...VALID, "--count", "0"], want: "--count: must be a whole number >= 1, got 0" },
    { argv: [...VALID, "--count", "3", "--min-count", "4"], want: "--min-count (4) must not exceed --count (3)" },
    { argv: [...VALID, "--strategy", "random"], want: '--strategy: unknown strategy "random"; expected one of: spread, pack' },
    { argv: [...VALID, "--label", "novalue"], want: '--label: expected KEY=VALUE' },
    { argv: [...VALID, "--label", "a=1", "--label", "a=2"], want: '--label: key "a" given twice' },
    { argv: [...VALID, "--constraint", ""], want: "--constraint: expression must not be empty" },
    { argv: [...VALID, "--restart", "sometimes"], want: '--restart: expected one of never, on-crash, always, got "sometimes"' },
    { argv: ["vm", "create", "Web_1", "--vcpus", "1", "--memory", "1G"], want: 'NAME "Web_1" is invalid' },
    { argv: [...VALID, "--bogus"], want: "unknown flag --bogus for 'drover vm create'" },
    { argv: ["vm", "create", "web", "--vcpus"], want: "--vcpus needs a value" },
    { argv: [...VALID, "extra"], want: 'drover vm create: unexpected argument "extra"' },
    { argv: ["vm", "list", "--state", "runnin"], want: '--state: unknown VM state "runnin"; expected one of: pending' },
    { argv: ["node", "list", "--state", "up"], want: '--state: unknown node state "up"; expected one of: ready, cordoned, draining, down' },
    { argv: ["vm", "get"], want: "drover vm get: missing required argument ID" },
    { argv: ["vm", "stop", "x", "--force=yes"], want: "--force does not take a value" },
    { argv: ["node", "cordon"], want: "drover node cordon: missing required argument NAME" },
    { argv: ["events", "--after", "-1"], want: "--after" },
    { argv: ["capacity", "-o", "yaml"], want: '-o/--output must be "table" or "json", got "yaml"' },
    { argv: ["capacity", "--timeout", "0"], want: '--timeout must be a number of seconds > 0, got "0"' },
    { argv: ["capacity", "--timeout", "soon"], want: '--timeout must be a number of seconds > 0, got "soon"' },
    { argv: ["frobnicate"], want: 'unknown command "frobnicate"; expected one of: vm, node, image, network, project, token, capacity, events' },
    { argv: ["vm", "frobnicate"], want: 'unknown command "vm frobnicate"; expected one of: create, list, get, delete, start, stop, reboot' },
  ])("drover $argv", async ({ argv, want }) => {
    const r = await drover(...argv);
    expect(r.stderr).toContain(want);
    expect(r.stderr).toMatch(/^error: /);
    expect(r.stderr).toMatch(/Run 'drover.* --help' for usage\.\n$/);
    expect(r.stdout).toBe("");
    expect(r.code).toBe(2);
  });

  it("prints usage and exits 2 with no command", async () => {
    const r = await drover();
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Usage: drover [global flags] COMMAND");
  });

  it("names the missing subcommand of a group", async () => {
    const r = await drover("vm");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: drover vm: missing command; expected one of: create, list");
    expect(r.stderr).toContain("Usage: drover vm COMMAND");
  });

  it("reports an unreadable --user-data-file as an error (exit 1)", async () => {
    const r = await drover(...VALID, "--user-data-file", "/nonexistent/cloud-init.yaml");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: --user-data-file: cannot read \/nonexistent\/cloud-init.yaml: ENOENT/);
  });
});

describe("help", () => {
  it.each([
    { argv: ["-h"], want: "Usage: drover [global flags] COMMAND" },
    { argv: ["--help"], want: "Usage: drover [global flags] COMMAND" },
    { argv: ["vm", "--help"], want: "Usage: drover vm COMMAND" },
    { argv: ["node", "-h"], want: "Usage: drover node COMMAND" },
    { argv: ["vm", "create", "-h"], want: "Usage: drover vm create NAME --vcpus N --memory SIZE" },
    // Help wins over otherwise invalid flags.
    { argv: ["vm", "create", "--vcpus", "0", "--help"], want: "Usage: drover vm create NAME" },
    { argv: ["vm", "list", "-h"], want: "Usage: drover vm list [--state STATE] [--node NODE] [--all]" },
    { argv: ["vm", "stop", "-h"], want: "--force" },
    { argv: ["node", "drain", "-h"], want: "Usage: drover node drain NAME" },
    { argv: ["capacity", "-h"], want: "Usage: drover capacity [--node NAME]" },
    { argv: ["--addr", "x:1", "events", "--help"], want: "Usage: drover events" },
  ])("drover $argv", async ({ argv, want }) => {
    const r = await drover(...argv);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(want);
    expect(r.stdout).toContain("Global flags:");
    expect(r.stderr).toBe("");
  });

  // Every group's help, and every command's, the same way: the group's commands, where their flags
  // are, and the whole global-flags block (image and network once printed no global flags).
  const groups = COMMANDS.filter((e) => "commands" in e);
  it.each(groups.map((g) => [g.name, g] as const))("drover %s --help lists its commands and the global flags", async (name, g) => {
    const r = await drover(name, "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: drover ${name} COMMAND [flags]`);
    for (const c of g.commands) expect(r.stdout).toMatch(new RegExp(`\\n  ${c.name} +${c.summary.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}\\n`));
    expect(r.stdout).toContain(`Run 'drover ${name} COMMAND --help' for a command's flags.`);
    expect(r.stdout).toContain(`\n\n${GLOBAL_FLAGS_HELP}\n`);
    // Without a command, the same help goes to stderr after the error.
    const bare = await drover(name);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toContain(r.stdout);
  });
  const leaves: string[][] = COMMANDS.flatMap((e) => ("commands" in e ? e.commands.map((c) => [e.name, c.name]) : [[e.name]]));
  it.each(leaves.map((argv) => [argv.join(" "), argv] as const))("drover %s --help prints the global flags", async (_path, argv) => {
    const r = await drover(...argv, "--help");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`\n\n${GLOBAL_FLAGS_HELP}\n`);
  });

  // VMs name catalog images (packages/scheduler/src/api/validation.ts refuses paths).
  it("describes --image as the API takes it: a catalog image name, no path", async () => {
    const r = await drover("vm", "create", "-h");
    const image = /--image NAME([\s\S]*?)\n {2}--/.exec(r.stdout)?.[1] ?? "";
    expect(image).toMatch(/a catalog\s+image \(drover image list\)/);
    expect(image).toMatch(/Paths are refused/);
  });
});

describe("vm create --restart", () => {
  it("sends the restart policy in the template, empty (the scheduler's default) without the flag", async () => {
    const base = { vcpus: "1", memory: "512M" };
    expect((await buildCreateRequest(["web"], { ...base, restart: "never" })).template!.restartPolicy).toBe("never");
    expect((await buildCreateRequest(["web"], { ...base, restart: "always" })).template!.restartPolicy).toBe("always");
    expect((await buildCreateRequest(["web"], base)).template!.restartPolicy).toBe("");
  });
});
