// npm run docs:config — rewrites the README configuration tables and deploy/config/*.env.example.
import { readFileSync, writeFileSync } from "node:fs";
import { ROOT, generatedConfigDocs } from "./generate.js";

for (const { path, text } of generatedConfigDocs()) {
  const before = readFileSync(`${ROOT}${path}`, "utf8");
  if (before === text) continue;
  writeFileSync(`${ROOT}${path}`, text);
  console.log(`wrote ${path}`);
}
