import { afterEach, describe, expect, it } from "vitest";
import { flag, numberFlag, requiredBeforeDir, withoutFlags } from "../../benchmarks/flags.js";

describe("benchmark flags", () => {
  const argv = process.argv;
  const run = (...args: string[]) => (process.argv = ["node", "bench.ts", ...args]);
  afterEach(() => {
    process.argv = argv;
  });

  it("reads --name V and --name=V alike, and nothing for a flag not given", () => {
    const args = ["--hosts", "1000,5000", "--before=/tmp/before", "--also-node-args", "--max-semi-space-size=32"];
    expect(flag("hosts", args)).toBe("1000,5000");
    expect(flag("before", args)).toBe("/tmp/before");
    expect(flag("also-node-args", args)).toBe("--max-semi-space-size=32");
    expect(flag("rounds", args)).toBeUndefined();
    expect(() => flag("json", ["--json"])).toThrow("--json: needs a value");
  });

  it("takes numbers of either form, falls back when absent, and refuses what is not one, naming the flag", () => {
    run("--vms", "10000", "--time=0.5", "--hosts", "many", "--rounds=", "--seed", "-1", "--bulk", "0");
    expect(numberFlag("vms", 1)).toBe(10_000);
    expect(numberFlag("time", 1)).toBe(0.5);
    expect(numberFlag("calls", 7)).toBe(7);
    expect(() => numberFlag("hosts", 1)).toThrow("--hosts: not a number: many");
    expect(() => numberFlag("rounds", 1)).toThrow("--rounds: not a number: ");
    expect(() => numberFlag("seed", 1)).toThrow("--seed: not a number: -1");
    expect(numberFlag("bulk", 5)).toBe(0);
    expect(() => numberFlag("bulk", 5, { positive: true })).toThrow("--bulk: not a positive number: 0");
  });

  it("passes on the flags it was not told to drop, with their values", () => {
    expect(withoutFlags(["--rounds", "3", "--hosts", "1000", "--before=/b", "--secure"], ["rounds", "before"])).toEqual(["--hosts", "1000", "--secure"]);
  });

  it("requires --before for an ABBA run, saying what it must be", () => {
    run("--rounds", "2");
    expect(() => requiredBeforeDir()).toThrow("--before=DIR: a checkout of the commit before, built with npx tsc -b");
    run("--before", "/tmp/before");
    expect(requiredBeforeDir()).toBe("/tmp/before");
  });
});
