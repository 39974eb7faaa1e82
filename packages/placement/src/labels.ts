import type { LabelExpression } from "./types.js";

// Hand-written tokenizer + parser: the grammar is tiny and error messages matter more than speed.
//   expr := "!" KEY | KEY | KEY "=" VALUE | KEY "!=" VALUE | KEY ("in"|"notin") "(" VALUE ("," VALUE)* ")"

const WORD = /[A-Za-z0-9._/-]/;

type Token = { kind: "word" | "=" | "!=" | "!" | "(" | ")" | ","; text: string; pos: number };

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      i++;
    } else if (WORD.test(c)) {
      const start = i;
      while (i < s.length && WORD.test(s[i]!)) i++;
      out.push({ kind: "word", text: s.slice(start, i), pos: start });
    } else if (c === "!" && s[i + 1] === "=") {
      out.push({ kind: "!=", text: "!=", pos: i });
      i += 2;
    } else if (c === "!" || c === "=" || c === "(" || c === ")" || c === ",") {
      out.push({ kind: c, text: c, pos: i });
      i++;
    } else {
      throw new Error(`invalid label expression "${s}": unexpected character "${c}" at position ${i}`);
    }
  }
  return out;
}

/** Parses one constraint/preference string; throws an Error naming the problem on bad syntax. */
export function parseLabelExpression(s: string): LabelExpression {
  const tokens = tokenize(s);
  let i = 0;
  const fail = (what: string): never => {
    const t = tokens[i];
    const where = t ? `"${t.text}" at position ${t.pos}` : "end of input";
    throw new Error(`invalid label expression "${s}": expected ${what}, got ${where}`);
  };
  const word = (what: string): string => {
    const t = tokens[i];
    if (t?.kind !== "word") return fail(what);
    i++;
    return t.text;
  };
  const end = (): void => {
    if (i < tokens.length) fail("end of expression");
  };

  if (tokens.length === 0) throw new Error(`invalid label expression "${s}": empty`);
  if (tokens[0]!.kind === "!") {
    i++;
    const key = word("a label key after \"!\"");
    end();
    return { op: "notexists", key };
  }
  const key = word("a label key");
  const t = tokens[i];
  if (!t) return { op: "exists", key };
  i++;
  if (t.kind === "=" || t.kind === "!=") {
    const value = word(`a value after "${t.text}"`);
    end();
    return t.kind === "=" ? { op: "eq", key, value } : { op: "neq", key, value };
  }
  if (t.kind === "word" && (t.text === "in" || t.text === "notin")) {
    if (tokens[i]?.kind !== "(") fail(`"(" after "${t.text}"`);
    i++;
    const values = [word("a value in the list")];
    while (tokens[i]?.kind === ",") {
      i++;
      values.push(word("a value after \",\""));
    }
    if (tokens[i]?.kind !== ")") fail('"," or ")"');
    i++;
    end();
    return { op: t.text, key, values };
  }
  i--;
  return fail('"=", "!=", "in", "notin" or end of expression');
}

/**
 * Kubernetes semantics: `!=` and `notin` also match nodes that lack the key,
 * so "zone!=a" means "not in zone a", not "has a zone other than a".
 */
export function matchesLabel(expr: LabelExpression, labels: Readonly<Record<string, string>>): boolean {
  // typeof guards against inherited members such as "constructor" without a slower hasOwn call.
  const raw: unknown = labels[expr.key];
  const v = typeof raw === "string" ? raw : undefined;
  switch (expr.op) {
    case "eq":
      return v === expr.value;
    case "neq":
      return v !== expr.value;
    case "in":
      return v !== undefined && expr.values.includes(v);
    case "notin":
      return v === undefined || !expr.values.includes(v);
    case "exists":
      return v !== undefined;
    case "notexists":
      return v === undefined;
  }
}

/** Canonical text of an expression; `parseLabelExpression(formatLabelExpression(e))` gives back `e`. */
export function formatLabelExpression(expr: LabelExpression): string {
  switch (expr.op) {
    case "eq":
      return `${expr.key}=${expr.value}`;
    case "neq":
      return `${expr.key}!=${expr.value}`;
    case "in":
    case "notin":
      return `${expr.key} ${expr.op} (${expr.values.join(",")})`;
    case "exists":
      return expr.key;
    case "notexists":
      return `!${expr.key}`;
  }
}
