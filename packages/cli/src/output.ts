// How a command prints a call's answer: its JSON with -o json, else its text for people.
import type { Context } from "./command.js";
import { formatJson } from "./format.js";

/** The answer's JSON with -o json, else `text()` (nothing when that is undefined). */
export function printAnswer(ctx: Context, json: unknown, text: () => string | undefined): void {
  if (ctx.output === "json") {
    ctx.io.stdout(formatJson(json));
    return;
  }
  const t = text();
  if (t !== undefined) ctx.io.stdout(t);
}

/** A list's JSON with -o json, else its table, or "No <things> found." on stderr when it is empty. */
export function printList<T>(ctx: Context, json: unknown, items: T[], table: (items: T[]) => string, things: string): void {
  if (ctx.output === "json") ctx.io.stdout(formatJson(json));
  else if (items.length === 0) ctx.io.stderr(`No ${things} found.\n`);
  else ctx.io.stdout(table(items));
}
