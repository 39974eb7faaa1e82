import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { formatLabelExpression, matchesLabel, parseLabelExpression } from "./labels.js";
import type { LabelExpression } from "./types.js";

describe("parseLabelExpression", () => {
  it.each<[string, LabelExpression]>([
    ["zone=a", { op: "eq", key: "zone", value: "a" }],
    ["  zone =  a  ", { op: "eq", key: "zone", value: "a" }],
    ["zone!=a", { op: "neq", key: "zone", value: "a" }],
    ["zone != eu-west/1", { op: "neq", key: "zone", value: "eu-west/1" }],
    ["zone in (a,b)", { op: "in", key: "zone", values: ["a", "b"] }],
    ["zone in ( a , b , c )", { op: "in", key: "zone", values: ["a", "b", "c"] }],
    ["zone in(a)", { op: "in", key: "zone", values: ["a"] }],
    ["zone notin (a,b)", { op: "notin", key: "zone", values: ["a", "b"] }],
    ["gpu", { op: "exists", key: "gpu" }],
    ["  drover.io/ssd  ", { op: "exists", key: "drover.io/ssd" }],
    ["!gpu", { op: "notexists", key: "gpu" }],
    ["! gpu", { op: "notexists", key: "gpu" }],
    ["in", { op: "exists", key: "in" }],
    ["in=notin", { op: "eq", key: "in", value: "notin" }],
    ["v=1.2_3", { op: "eq", key: "v", value: "1.2_3" }],
  ])("parses %j", (input, want) => {
    expect(parseLabelExpression(input)).toEqual(want);
  });

  it.each<[string, RegExp]>([
    ["", /empty/],
    ["   ", /empty/],
    ["zone=", /expected a value after "="/],
    ["=a", /expected a label key/],
    ["zone==a", /expected a value after "="/],
    ["zone=a b", /expected end of expression/],
    ["zone in a,b", /expected "\(" after "in"/],
    ["zone in (a,b", /expected "," or "\)"/],
    ["zone in ()", /expected a value in the list/],
    ["zone in (a,)", /expected a value after ","/],
    ["zone notin (a b)", /expected "," or "\)"/],
    ["zone in (a) x", /expected end of expression/],
    ["zone a", /expected "=", "!=", "in", "notin"/],
    ["!", /expected a label key after "!"/],
    ["!a=b", /expected end of expression/],
    ["zone=a*", /unexpected character "\*" at position 6/],
    ["zöne=a", /unexpected character "ö"/],
  ])("rejects %j", (input, msg) => {
    expect(() => parseLabelExpression(input)).toThrow(msg);
  });

  it("names the expression in the error", () => {
    expect(() => parseLabelExpression("zone=")).toThrow('invalid label expression "zone="');
  });

  it("round-trips through formatLabelExpression", () => {
    const word = fc.stringMatching(/^[A-Za-z0-9._/-]{1,8}$/);
    const expr: fc.Arbitrary<LabelExpression> = fc.oneof(
      fc.record({ op: fc.constant("eq" as const), key: word, value: word }),
      fc.record({ op: fc.constant("neq" as const), key: word, value: word }),
      fc.record({ op: fc.constant("in" as const), key: word, values: fc.array(word, { minLength: 1, maxLength: 4 }) }),
      fc.record({ op: fc.constant("notin" as const), key: word, values: fc.array(word, { minLength: 1, maxLength: 4 }) }),
      fc.record({ op: fc.constant("exists" as const), key: word }),
      fc.record({ op: fc.constant("notexists" as const), key: word }),
    );
    // "key in" / "key notin" alone would be ambiguous with "exists"; the grammar needs a list after them.
    fc.assert(
      fc.property(expr, (e) => {
        expect(parseLabelExpression(formatLabelExpression(e))).toEqual(e);
      }),
    );
  });
});

describe("matchesLabel", () => {
  const labels = { zone: "a", gpu: "nvidia", empty: "" };
  it.each<[string, boolean]>([
    ["zone=a", true],
    ["zone=b", false],
    ["rack=a", false],
    ["zone!=a", false],
    ["zone!=b", true],
    ["rack!=a", true], // missing key matches != (Kubernetes semantics)
    ["zone in (a,b)", true],
    ["zone in (b,c)", false],
    ["rack in (a)", false],
    ["zone notin (a,b)", false],
    ["zone notin (b)", true],
    ["rack notin (a)", true],
    ["gpu", true],
    ["empty", true], // an empty value still exists
    ["rack", false],
    ["!gpu", false],
    ["!rack", true],
    ["constructor", false], // inherited members are not labels
    ["!toString", true],
  ])("%s on {zone:a, gpu:nvidia, empty:''} is %s", (expr, want) => {
    expect(matchesLabel(parseLabelExpression(expr), labels)).toBe(want);
  });
});
