import { afterEach, describe, expect, it, vi } from "vitest";
import { givenIn, integer, text } from "./option-kinds.js";
import { ConfigError, defaultsOf, readFlags, readOptions, warnOnceToStderr, type OptionTable } from "./option-table.js";

// A made-up program with a flag, a renamed flag and variable, and an option where empty means something.
interface Demo {
  waitMs: number;
  target: string;
  name?: string;
}
const TABLE: OptionTable<Demo> = {
  waitMs: {
    env: "DEMO_WAIT_MS",
    flag: "--wait-ms",
    ...integer(1, 100, "ms"),
    default: 50,
    deprecated: [{ env: "DEMO_WAIT_SECONDS", flag: "--wait", ...givenIn("seconds") }],
    help: "How long to wait.",
  },
  target: { env: "DEMO_TARGET", flag: "--target", ...text("word"), default: "x", emptyIsValue: true, help: "Empty means none." },
  name: { env: "DEMO_NAME", ...text("name"), default: undefined, defaultText: "the hostname", help: "A name." },
};
const USAGE = "usage: demo";

function read(env: Record<string, string>, argv: string[] = []): { config: Demo; warnings: string[] } {
  const warnings: string[] = [];
  return { config: readOptions(TABLE, env, readFlags(TABLE, argv, USAGE), (m) => warnings.push(m)), warnings };
}

describe("readOptions", () => {
  it("fills in defaults and leaves options worked out at start absent", () => {
    expect(read({}).config).toEqual({ waitMs: 50, target: "x" });
    expect(read({ DEMO_NAME: " " }).config).toEqual({ waitMs: 50, target: "x" });
    expect(defaultsOf(TABLE)).toEqual({ waitMs: 50, target: "x" });
  });

  it.each<[Record<string, string>, string[], Partial<Demo>, number]>([
    [{ DEMO_WAIT_MS: "7" }, [], { waitMs: 7 }, 0],
    [{ DEMO_WAIT_MS: "7" }, ["--wait-ms", "9"], { waitMs: 9 }, 0],
    [{ DEMO_WAIT_SECONDS: "0.02" }, [], { waitMs: 20 }, 1],
    [{}, ["--wait=0.03"], { waitMs: 30 }, 1],
    [{ DEMO_WAIT_MS: "7", DEMO_WAIT_SECONDS: "0.02" }, [], { waitMs: 7 }, 0],
    [{ DEMO_TARGET: "" }, [], { target: "" }, 0],
    [{ DEMO_TARGET: "y" }, ["--target="], { target: "" }, 0],
  ])("%o %o reads %o with %i warnings", (env, argv, want, warnings) => {
    const got = read(env, argv);
    expect(got.config).toMatchObject(want);
    expect(got.warnings).toHaveLength(warnings);
  });

  it("names the deprecated flag it was given and the option it stands for", () => {
    const got = read({}, ["--wait", "0.01"]);
    expect(got.warnings).toEqual(["--wait is deprecated and will be removed: use DEMO_WAIT_MS / --wait-ms (in ms, not seconds)"]);
    expect(() => read({}, ["--wait", "1"])).toThrow(
      new ConfigError("--wait (deprecated name of DEMO_WAIT_MS / --wait-ms)", "1", "expected an integer from 1 to 100 (ms)", "read as 1000 ms"),
    );
  });

  it("carries the parser's error as the cause", () => {
    try {
      read({ DEMO_WAIT_MS: "0" });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      expect((e as ConfigError).message).toBe('DEMO_WAIT_MS (--wait-ms)="0": expected an integer from 1 to 100 (ms)');
      expect((e as ConfigError).cause).toBeInstanceOf(Error);
    }
  });
});

describe("warnOnceToStderr", () => {
  afterEach(() => vi.restoreAllMocks());

  it("writes each distinct warning once per process", () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => (written.push(String(chunk)), true));
    const warn = warnOnceToStderr("demo");
    warn("old name A");
    warn("old name A");
    warnOnceToStderr("demo")("old name A");
    warn("old name B");
    expect(written).toEqual(["demo: warning: old name A\n", "demo: warning: old name B\n"]);
  });
});
