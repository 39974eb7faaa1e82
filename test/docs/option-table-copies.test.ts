import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// The agent and the scheduler share no package that could hold the option-table code,
// so each has a copy; they must stay the same file.
const read = (pkg: string, file: string) => readFileSync(new URL(`../../packages/${pkg}/src/${file}`, import.meta.url), "utf8");

describe("option table copies", () => {
  it.each(["option-table.ts", "option-kinds.ts"])("%s is the same in packages/agent and packages/scheduler", (file) => {
    expect(read("agent", file)).toBe(read("scheduler", file));
  });
});
