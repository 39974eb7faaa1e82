# Shared by scripts/test.sh and scripts/cluster.sh: installs and starts what is
# missing on a Debian machine, then installs and builds the workspace.
# Each step checks first, so a second run does nothing it does not need.

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

# libvirt (daemon, headers for the node binding), QEMU, qemu-img, an ISO
# tool for cloud-init seeds, and promtool.
ensure_system_packages() {
  local missing=()
  pkg-config --exists libvirt 2>/dev/null || missing+=(libvirt-dev pkg-config)
  command -v libvirtd >/dev/null || missing+=(libvirt-daemon-system)
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  command -v qemu-img >/dev/null || missing+=(qemu-utils)
  command -v genisoimage >/dev/null || missing+=(genisoimage)
  command -v g++ >/dev/null || missing+=(g++ make python3)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  ensure_promtool || log "promtool not installed: the promtool checks of deploy/prometheus and /metrics will be skipped"
}

# promtool checks deploy/prometheus and the /metrics output in the tests.
# Debian ships it only inside the prometheus package, whose install would also
# start a Prometheus server; take just the binary from it (a 19 MB download).
ensure_promtool() {
  command -v promtool >/dev/null && return 0
  log "installing promtool from Debian's prometheus package"
  local dir status=0
  dir=$(mktemp -d)
  chmod 755 "$dir" # apt fetches as the _apt user
  (cd "$dir" && { apt-get download -qq prometheus 2>/dev/null || { as_root apt-get update -qq && apt-get download -qq prometheus; }; }) &&
    dpkg-deb --fsys-tarfile "$dir"/prometheus_*.deb | tar -x -C "$dir" ./usr/bin/promtool &&
    as_root install -m 0755 "$dir/usr/bin/promtool" /usr/local/bin/promtool || status=1
  rm -rf "$dir"
  return $status
}

# libvirtd answers on qemu:///system (KVM or, without /dev/kvm, plain QEMU).
ensure_libvirtd() {
  if virsh -c qemu:///system uri >/dev/null 2>&1; then return 0; fi
  log "starting virtlogd and libvirtd"
  pgrep -x virtlogd >/dev/null || as_root virtlogd -d
  pgrep -x libvirtd >/dev/null || as_root libvirtd -d
  for _ in $(seq 1 50); do virsh -c qemu:///system uri >/dev/null 2>&1 && return 0; sleep 0.2; done
  log "libvirtd did not come up"; return 1
}

ensure_postgres() {
  if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then return 0; fi
  log "starting PostgreSQL"
  as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && return 0; sleep 0.2; done
  log "PostgreSQL did not come up on 127.0.0.1:5432"; return 1
}

nats_up() { (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; }

ensure_nats() {
  if nats_up; then return 0; fi
  log "starting NATS with JetStream"
  as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
    -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  for _ in $(seq 1 50); do nats_up && return 0; sleep 0.2; done
  log "NATS did not come up on 127.0.0.1:4222"; return 1
}

# npm install when node_modules is missing or older than the lock file; then build.
# (Not npm ci: with this machine's omit-lockfile-registry-resolved setting, npm
# leaves other platforms' optional packages out of the lock and ci refuses it.)
ensure_workspace() {
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
     || [ ! -e node_modules/@unraid/libvirt/build/Release/libvirt.node ]; then
    log "installing npm packages"
    npm install --no-audit --no-fund
  fi
  log "building"
  npx turbo run build --output-logs=errors-only
}
