import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ROOT, generatedConfigDocs } from "../../scripts/config-docs/generate.js";
import { envExample, markdownTable, replaceBetweenMarkers } from "../../scripts/config-docs/render.js";
import { SCHEDULER_OPTIONS } from "../../packages/scheduler/src/config-options.js";

describe("configuration docs", () => {
  it.each(generatedConfigDocs().map((f) => [f.path, f.text]))("%s is what the option tables generate (run npm run docs:config)", (path, text) => {
    expect(readFileSync(`${ROOT}${path}`, "utf8")).toBe(text);
  });

  it("lists every scheduler variable with its default in the README table", () => {
    const table = markdownTable(SCHEDULER_OPTIONS);
    expect(table).toContain("| `DROVER_DISPATCH_CONCURRENCY` | `256` | integer 1..10000 |");
    expect(table).toContain("| `DROVER_HEARTBEAT_INTERVAL_MS` | `2000` | integer 1000..3600000 ms |");
    expect(table.split("\n")).toHaveLength(2 + Object.keys(SCHEDULER_OPTIONS).length);
  });

  it("writes each variable once in the example env file, at its default unless changed", () => {
    const text = envExample(SCHEDULER_OPTIONS, "# header", { DROVER_TICK_MS: { value: "100", why: "faster" } });
    const lines = text.split("\n").filter((l) => /^DROVER_/.test(l));
    expect(lines).toHaveLength(Object.keys(SCHEDULER_OPTIONS).length);
    expect(lines).toContain("DROVER_DISPATCH_CONCURRENCY=256");
    expect(lines).toContain("DROVER_TICK_MS=100");
    expect(text).toContain("# CHANGED from 250: faster");
    expect(() => envExample(SCHEDULER_OPTIONS, "", { DROVER_NO_SUCH: { value: "", why: "" } })).toThrow(/DROVER_NO_SUCH/);
  });

  it("replaces only the text between the markers, and refuses a file without them", () => {
    const text = "a\n<!-- BEGIN t (note) -->\nold\n<!-- END t -->\nb\n";
    expect(replaceBetweenMarkers(text, "t", "new")).toBe("a\n<!-- BEGIN t (note) -->\nnew\n<!-- END t -->\nb\n");
    expect(() => replaceBetweenMarkers("no markers", "t", "new")).toThrow(/BEGIN t/);
  });
});
