import { describe, expect, it } from "vitest";
import { parseCount, parseDiskGiB, parseMemoryMiB } from "./units.js";

describe("parseMemoryMiB", () => {
  it.each([
    ["512", 512],
    ["512M", 512],
    ["512m", 512],
    ["512MiB", 512],
    ["512MB", 512],
    ["4G", 4096],
    ["4g", 4096],
    ["4GiB", 4096],
    ["1.5G", 1536],
    ["0.5G", 512],
    ["1T", 1048576],
    [" 2G ", 2048],
    ["0", 0],
  ])("%s -> %d MiB", (input, want) => {
    expect(parseMemoryMiB(input)).toBe(want);
  });

  it.each([
    ["abc", /invalid size "abc": expected a number/],
    ["", /invalid size/],
    ["-1G", /invalid size/],
    ["4X", /unknown unit "X"/],
    ["4K", /unknown unit "K"/],
    ["1.1M", /whole number of MiB/],
    ["0.1G", /whole number of MiB/],
    ["4 G", /invalid size/],
    ["G", /invalid size/],
    ["1e3", /unknown unit "e"|invalid size/],
    ["99999999999999999999T", /too large/],
  ])("rejects %j", (input, message) => {
    expect(() => parseMemoryMiB(input)).toThrow(message);
  });
});

describe("parseDiskGiB", () => {
  it.each([
    ["20", 20],
    ["20G", 20],
    ["20GiB", 20],
    ["1T", 1024],
    ["1.5T", 1536],
    ["2048M", 2],
    ["0", 0],
  ])("%s -> %d GiB", (input, want) => {
    expect(parseDiskGiB(input)).toBe(want);
  });

  it.each([
    ["500M", /whole number of GiB/],
    ["1.5", /whole number of GiB/],
    ["twenty", /invalid size/],
    ["20P", /unknown unit "P"/],
  ])("rejects %j", (input, message) => {
    expect(() => parseDiskGiB(input)).toThrow(message);
  });
});

describe("parseCount", () => {
  it.each([
    ["1", 1, 1],
    ["10", 1, 10],
    ["0", 0, 0],
  ])("%s (min %d) -> %d", (input, min, want) => {
    expect(parseCount(input, min)).toBe(want);
  });

  it.each([
    ["0", 1, /whole number >= 1, got 0/],
    ["-2", 1, /whole number >= 1, got "-2"/],
    ["1.5", 1, /whole number/],
    ["two", 1, /whole number/],
    ["", 1, /whole number/],
    ["4294967296", 1, /whole number/],
  ])("rejects %j (min %d)", (input, min, message) => {
    expect(() => parseCount(input, min)).toThrow(message);
  });
});
