import { describe, expect, it } from "vitest";
import { ValidationError } from "../errors.js";
import { decodePageToken, encodePageToken } from "./page-token.js";

const ID = "0f8fad5b-d9cb-469f-a165-70867728950e";
const token = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

describe("ListVms page tokens", () => {
  it("round-trip the exact microseconds and the id", () => {
    const cursor = { createdMicros: "1764578239123456", id: ID };
    expect(decodePageToken(encodePageToken(cursor))).toEqual(cursor);
  });

  // Each of these reached Postgres before and failed there (INTERNAL) or paged wrongly.
  it.each([
    ["not base64 JSON", "%%%"],
    ["the old millisecond ISO form", token(["2026-12-01T08:37:19.123Z", ID])],
    ["year 0", token(["-62167219200000000", ID])],
    ["year 275760", token(["8639977881600000000", ID])],
    ["year -275760", token(["-8639977881600000000", ID])],
    ["past 9999", token(["253402300800000000", ID])],
    ["a number instead of text", token([1764578239123456, ID])],
    ["leading zeros", token(["01", ID])],
    ["not a UUID", token(["1", "x"])],
    ["extra parts", token(["1", ID, 3])],
  ])("refuses %s, naming page_token", (_what, t) => {
    expect(() => decodePageToken(t)).toThrow(ValidationError);
    expect(() => decodePageToken(t)).toThrow(/^page_token: is not a next_page_token returned by ListVms/);
  });
});
