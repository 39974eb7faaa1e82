#!/usr/bin/env bash
# The whole test suite: lint the wire contract, typecheck (tests included), eslint,
# then every unit, integration and end-to-end test against real Postgres, NATS and libvirt.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh

ensure_system_packages
ensure_libvirtd
ensure_kvm_access
ensure_nat_network
# The real guest test/e2e/guest.test.ts boots (cached: a second run does nothing).
DROVER_TEST_GUEST_DIR=$(scripts/build-test-guest.sh)
export DROVER_TEST_GUEST_DIR
ensure_postgres
ensure_nats
in_git() { command -v git >/dev/null && git rev-parse --git-dir >/dev/null 2>&1; }
tree_before=$(in_git && git status --porcelain || true)
ensure_workspace
# npm install must leave the committed package-lock.json as it is (and the build
# must write only ignored files): on a clean tree, anything dirty now came from them.
# With a developer's uncommitted work, only a change made by this step fails.
if in_git; then
  tree_after=$(git status --porcelain)
  if [ -n "$tree_after" ] && { [ -z "$tree_before" ] || [ "$tree_after" != "$tree_before" ]; }; then
    log "the git tree is dirty after npm install and the build:"
    echo "$tree_after"
    git diff --stat
    log "commit the package-lock.json that npm install writes (or ignore build output), then run again"
    exit 1
  fi
fi

log "buf lint, and the generated code matches proto/"
(cd proto && ../node_modules/.bin/buf lint && ../node_modules/.bin/buf generate && ../node_modules/.bin/buf build --as-file-descriptor-set -o ../packages/proto/descriptor.binpb)
if in_git; then
  git diff --exit-code --stat -- packages/proto/src packages/proto/descriptor.binpb || { log "packages/proto/src is stale: run npm run generate and commit"; exit 1; }
fi
log "typecheck (tsc -b, then tsconfig.test.json: unit tests, test/, benchmarks/, scripts/) and eslint, side by side"
npx tsc -b
npx tsc -p tsconfig.test.json & typecheck=$!
lint=0; npx eslint . || lint=$?
types=0; wait "$typecheck" || types=$?
[ "$types" = 0 ] || { log "typecheck failed (npm run typecheck)"; exit 1; }
[ "$lint" = 0 ] || { log "eslint failed (npm run lint)"; exit 1; }
log "vitest"
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json=.drover/vitest.json "$@" || status=$?
# A plain closing line that any CI reads: "N passed, N failed, N skipped".
node -e 'const r = require("./.drover/vitest.json");
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);' || true
exit $status
