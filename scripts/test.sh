#!/usr/bin/env bash
# The whole test suite: lint the wire contract, typecheck, then every unit,
# integration and end-to-end test against real Postgres, NATS and libvirt.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh

ensure_system_packages
ensure_libvirtd
ensure_kvm_access
ensure_postgres
ensure_nats
ensure_workspace

log "buf lint, and the generated code matches proto/"
(cd proto && ../node_modules/.bin/buf lint && ../node_modules/.bin/buf generate && ../node_modules/.bin/buf build --as-file-descriptor-set -o ../packages/proto/descriptor.binpb)
if command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; then
  git diff --exit-code --stat -- packages/proto/src packages/proto/descriptor.binpb || { log "packages/proto/src is stale: run npm run generate and commit"; exit 1; }
fi
log "typecheck (tsc -b, tests included)"
npx tsc -b
npx tsc -p test
log "vitest"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.drover/vitest.json "$@" || status=$?
# A plain closing line that any CI reads: "N passed, N failed, N skipped".
node -e 'const r = require("./.drover/vitest.json");
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);' || true
exit $status
