// Readers for cli-docs.test.ts: README's CLI section and what it says of each command. Pure text functions.

/** A leaf command: its path (`["vm", "create"]`, `["capacity"]`) and its long flags without `--`. */
export interface CliCommand {
  path: string[];
  flags: string[];
}

/** README from "## The CLI" to the next "## " heading. */
export function cliSection(readme: string): string {
  const start = readme.indexOf("## The CLI");
  if (start < 0) throw new Error('README has no "## The CLI" section');
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The command words of each `drover …` synopsis line: "drover vm delete|start ID" → [["vm", "delete", "start"]]. */
function synopsisWords(section: string): string[][] {
  return section
    .split("\n")
    .filter((l) => l.startsWith("drover "))
    .map((l) => l.split("#")[0]!.split(/[\s|]+/).filter((w) => /^[a-z][a-z-]*$/.test(w)).slice(1));
}

/** Commands with no synopsis line: the group first, then the command among the line's words. */
export function missingCommands(section: string, commands: CliCommand[]): string[] {
  const lines = synopsisWords(section);
  return commands
    .filter(({ path: [group, name] }) => !lines.some((w) => w[0] === group && (name === undefined || w.slice(1).includes(name))))
    .map((c) => c.path.join(" "));
}

/** `path --flag` for each flag the section never names. */
export function missingFlags(section: string, commands: CliCommand[]): string[] {
  return commands.flatMap((c) => c.flags.filter((f) => !new RegExp(`--${f}(?![\\w-])`).test(section)).map((f) => `${c.path.join(" ")} --${f}`));
}
