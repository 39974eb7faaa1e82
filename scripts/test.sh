#!/usr/bin/env bash
# The whole test suite: lint the wire contract, typecheck, then every unit,
# integration and end-to-end test against real Postgres, NATS and libvirt.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh

ensure_system_packages
ensure_libvirtd
ensure_postgres
ensure_nats
ensure_workspace

log "buf lint and generated code up to date"
(cd proto && ../node_modules/.bin/buf lint)
log "typecheck (tsc -b, tests included)"
npx tsc -b
npx tsc -p test
log "vitest"
npx vitest run "$@"
