import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string) => fileURLToPath(new URL(`./packages/${pkg}/src/index.ts`, import.meta.url));

// Tests run against the TypeScript sources, so no build is needed first.
export default defineConfig({
  resolve: {
    alias: Object.fromEntries(
      ["proto", "placement", "store", "events", "agent", "scheduler", "cli"].map((p) => [`@drover/${p}`, src(p)]),
    ),
  },
  test: {
    include: ["packages/*/src/**/*.test.ts", "test/**/*.test.ts"],
    exclude: ["**/node_modules/**", "**/dist/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration suites share one Postgres database and one libvirtd; run files one at a time.
    fileParallelism: false,
  },
});
