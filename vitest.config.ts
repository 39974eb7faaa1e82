import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (pkg: string, file = "index") => fileURLToPath(new URL(`./packages/${pkg}/src/${file}.ts`, import.meta.url));

// Tests run against the TypeScript sources, so no build is needed first. The
// first alias that matches wins, and "@drover/store" also matches
// "@drover/store/testing": the ./testing subpaths come first.
export default defineConfig({
  resolve: {
    alias: [
      ...["store", "agent"].map((p) => ({ find: `@drover/${p}/testing`, replacement: src(p, "testing") })),
      ...["proto", "options", "placement", "pki", "store", "events", "agent", "scheduler", "cli"].map((p) => ({ find: `@drover/${p}`, replacement: src(p) })),
    ],
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
