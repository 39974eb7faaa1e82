// README's CLI section against packages/cli: every command has a `drover …` line in the
// synopsis, and every flag of every command is named in the section.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../scripts/config-docs/generate.js";
import { COMMANDS } from "../../packages/cli/src/run.js";
import { cliSection, missingCommands, missingFlags, type CliCommand } from "./cli-docs.js";

const commands: CliCommand[] = COMMANDS.flatMap((e) =>
  "commands" in e ? e.commands.map((c) => ({ path: [e.name, c.name], flags: Object.keys(c.options) })) : [{ path: [e.name], flags: Object.keys(e.options) }],
);
const section = cliSection(readFileSync(`${ROOT}README.md`, "utf8"));

describe("README CLI section", () => {
  it("has a synopsis line for every drover command", () => {
    expect(commands.length).toBeGreaterThan(20);
    expect(missingCommands(section, commands)).toEqual([]);
  });

  it("names every flag of every command", () => {
    expect(missingFlags(section, commands)).toEqual([]);
  });

  it("reads shorthand lines (a|b, a | b NAME) as one line per command", () => {
    const text = "```\ndrover vm delete|start ID\ndrover image list | get NAME\ndrover capacity [--node NAME]\n```\n";
    const want = (path: string[]) => ({ path, flags: [] });
    expect(missingCommands(text, [want(["vm", "delete"]), want(["vm", "start"]), want(["image", "get"]), want(["capacity"])])).toEqual([]);
    expect(missingCommands(text, [want(["vm", "reboot"]), want(["image", "delete"])])).toEqual(["vm reboot", "image delete"]);
    expect(missingFlags(text, [{ path: ["capacity"], flags: ["node", "all"] }])).toEqual(["capacity --all"]);
  });
});
