#!/usr/bin/env bash
# Runs a whole Drover cluster on this machine: scheduler on embedded Postgres
# (or DROVER_DATABASE_URL), NATS when reachable, three simulated hosts on
# libvirt's test driver and one real host on qemu:///system when libvirt runs.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh

ensure_system_packages
if ensure_libvirtd; then
  ensure_kvm_access
  # The real host's VMs attach to drover-nat, and can boot the test guest (kernel, initrd) built here.
  ensure_nat_network
  scripts/build-test-guest.sh >/dev/null
else
  log "no libvirtd: running simulated hosts only"
fi
ensure_workspace
exec node packages/devcluster/dist/main.js "$@"
