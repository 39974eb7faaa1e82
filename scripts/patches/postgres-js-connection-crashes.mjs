/* global console, process */
// postgres.js 3.4.9 crashes the process when the database goes away under
// load: a small write deferred with setImmediate runs after closed() has set
// the socket to null ("Cannot read properties of null (reading 'write')",
// thrown from a timer, so no caller can catch it), and closed()/terminate()
// cancel that timer without resetting it, so a reused connection never
// flushes again. Upstream: porsager/postgres issues 1066, 1154, 1208 (open;
// the fix is not released). This applies the guard from the upstream pull
// requests to both builds in node_modules; it is idempotent, and says so
// loudly when the driver's code no longer looks like 3.4.9's.
// Second crash of the same kind: a connection that drops while it fetches the
// array types (the first query of every new connection) rejects a promise no
// one awaits, and Node ends the process on an unhandled rejection. The
// connection's queries are rejected through error() all the same, so the
// failed type fetch is dropped (the next connection fetches them again).
import { readFileSync, writeFileSync, existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const MARK = "/* drover: null-socket guard */";
const repo = join(dirname(fileURLToPath(import.meta.url)), "../..");
// The hoisted copy, and any a workspace package keeps of its own.
const roots = [join(repo, "node_modules/postgres")];
for (const pkg of existsSync(join(repo, "packages")) ? readdirSync(join(repo, "packages")) : []) roots.push(join(repo, "packages", pkg, "node_modules/postgres"));

const edits = [
  [
    "  function nextWrite(fn) {\n    const x = socket.write(chunk, fn)",
    `  function nextWrite(fn) {\n    ${MARK}\n    if (!socket) {\n      chunk = nextWriteTimer = null\n      error(Errors.connection('CONNECTION_CLOSED', options))\n      return false\n    }\n    const x = socket.write(chunk, fn)`,
  ],
  // Both teardowns: cancel the deferred write and forget it, so the next write schedules anew.
  ["    clearImmediate(nextWriteTimer)\n    if (socket) {", "    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    if (socket) {"],
  ["    clearImmediate(nextWriteTimer)\n    socket.removeListener('data', data)", "    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n    socket.removeListener('data', data)"],
  ["        return fetchArrayTypes()\n", "        return fetchArrayTypes().catch(() => { /* drover: connection lost; error() rejects its queries */ })\n"],
];

for (const root of roots.filter((r) => existsSync(join(r, "package.json")))) {
  const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
  for (const file of ["src/connection.js", "cjs/src/connection.js"].map((f) => join(root, f))) patch(file, version);
}

function patch(file, version) {
  if (!existsSync(file)) return;
  let text = readFileSync(file, "utf8");
  const before = text;
  for (const [from, to] of edits) {
    if (text.includes(to)) continue; // applied before
    if (!text.includes(from)) {
      console.error(`patch postgres.js: ${file} (version ${version}) does not have the code this patch expects; check whether the driver fixed the null-socket crash`);
      process.exit(version === "3.4.9" ? 1 : 0);
    }
    text = text.replace(from, to);
  }
  if (text === before) return;
  writeFileSync(file, text);
  console.log(`patched ${file}: null-socket guard, type fetch failure caught (postgres.js ${version})`);
}
