import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { hasPromtool, promtool } from "../support/promtool.js";

const shipped = (file: string) => fileURLToPath(new URL(`../../deploy/prometheus/${file}`, import.meta.url));

// deploy/prometheus as shipped: Prometheus started on this config must load it
// and the alert rules it names.
describe.skipIf(!hasPromtool)("deploy/prometheus", () => {
  it("prometheus.yml passes promtool check config, rule files included", () => {
    const r = promtool(["check", "config", shipped("prometheus.yml")]);
    expect(r.output).toContain("SUCCESS: 1 rule files found");
    expect(r.status, r.output).toBe(0);
  });

  it("alerts.yml passes promtool check rules", () => {
    const r = promtool(["check", "rules", shipped("alerts.yml")]);
    expect(r.output).toMatch(/SUCCESS: \d+ rules found/);
    expect(r.status, r.output).toBe(0);
  });
});
