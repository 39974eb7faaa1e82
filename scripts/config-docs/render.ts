// Renders an option table as a README table and as an example env file, and splices
// generated text between marker comments. Pure functions; generate.ts decides what goes where.
import { allowedText, defaultAsText, docsDefault, entries, wrap, type Option, type OptionTable } from "@drover/options";

const code = (s: string) => `\`${s}\``;
// Outside code spans, < would open an HTML tag ("<bound port>" would vanish).
const cell = (s: string) =>
  s
    .split(/(`[^`]*`)/)
    .map((part) => (part.startsWith("`") ? part : part.replace(/</g, "&lt;")))
    .join("")
    .replace(/\|/g, "\\|")
    .replace(/\n/g, " ");

function meaning(option: Option<unknown>): string {
  const parts = [option.help];
  for (const old of option.deprecated ?? []) {
    const names = [old.env, old.flag].filter((n): n is string => n !== undefined).map(code).join(" / ");
    parts.push(`Deprecated name: ${names}${old.unit ? ` (in ${old.unit})` : ""}, still read with a warning.`);
  }
  return parts.join(" ");
}

/** A Markdown table: variable, flag (when the program has flags), default, allowed values, meaning. */
export function markdownTable<C>(table: OptionTable<C>): string {
  const options = entries(table).map(([, o]) => o);
  const flags = options.some((o) => o.flag !== undefined);
  const head = flags ? ["variable", "flag", "default", "allowed", "meaning"] : ["variable", "default", "allowed", "meaning"];
  const rows = options.map((o) => {
    const d = docsDefault(o);
    const row = [code(o.env), ...(flags ? [o.flag ? code(o.flag) : ""] : []), d.literal ? code(d.text) : d.text, allowedText(o), meaning(o)];
    return `| ${row.map(cell).join(" | ")} |`;
  });
  return [`| ${head.join(" | ")} |`, `|${head.map(() => "---").join("|")}|`, ...rows].join("\n");
}

/** A value in an example env file that differs from the default, and why. */
export interface ExampleValue {
  value: string;
  why: string;
}

/** An env file: the header, then each option's help as a comment over `NAME=default`. */
export function envExample<C>(table: OptionTable<C>, header: string, changed: Record<string, ExampleValue> = {}): string {
  const known = new Set(entries(table).map(([, o]) => o.env));
  for (const name of Object.keys(changed)) if (!known.has(name)) throw new Error(`example value for unknown variable ${name}`);
  const blocks = entries(table).map(([, o]) => {
    const facts = [`Allowed: ${allowedText(o)}.`];
    if (o.default === undefined) facts.push(`Empty: ${o.defaultText}.`);
    for (const old of o.deprecated ?? []) facts.push(`Formerly ${old.env}${old.unit ? ` (in ${old.unit})` : ""}, still read with a warning.`);
    const lines = wrap(`${o.help} ${facts.join(" ")}`, 98).map((l) => `# ${l}`);
    const example = changed[o.env];
    if (example) lines.push(...wrap(`CHANGED from ${defaultAsText(o) || "empty"}: ${example.why}`, 98).map((l) => `# ${l}`));
    lines.push(`${o.env}=${example ? example.value : defaultAsText(o)}`);
    return lines.join("\n");
  });
  return `${header.trimEnd()}\n\n${blocks.join("\n\n")}\n`;
}

/** The variables where an empty value means something other than the default. */
export function emptyIsValueNames<C>(table: OptionTable<C>): string[] {
  return entries(table)
    .filter(([, o]) => o.emptyIsValue)
    .map(([, o]) => o.env);
}

/** Replaces the text between `<!-- BEGIN name … -->` and `<!-- END name -->`; throws if the markers are missing. */
export function replaceBetweenMarkers(text: string, name: string, body: string): string {
  const begin = new RegExp(`<!-- BEGIN ${name}\\b[^>]*-->\\n`);
  const end = `<!-- END ${name} -->`;
  const b = begin.exec(text);
  const e = text.indexOf(end);
  if (!b || e < b.index) throw new Error(`markers <!-- BEGIN ${name} … --> and ${end} not found`);
  return text.slice(0, b.index + b[0].length) + `${body.trimEnd()}\n` + text.slice(e);
}
