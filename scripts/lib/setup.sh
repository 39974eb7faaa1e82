# Shared by scripts/test.sh and scripts/cluster.sh: installs and starts what is
# missing on a Debian machine, then installs and builds the workspace.
# Each step checks first, so a second run does nothing it does not need.

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

# libvirt (daemon, headers for the node binding), QEMU, qemu-img, an ISO
# tool for cloud-init seeds, dnsmasq (libvirt's DHCP for drover-nat), busybox-static
# (the test guest's initramfs, scripts/build-test-guest.sh), and promtool.
ensure_system_packages() {
  local missing=()
  pkg-config --exists libvirt 2>/dev/null || missing+=(libvirt-dev pkg-config)
  command -v libvirtd >/dev/null || missing+=(libvirt-daemon-system)
  command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
  command -v qemu-img >/dev/null || missing+=(qemu-utils)
  command -v genisoimage >/dev/null || missing+=(genisoimage)
  command -v dnsmasq >/dev/null || missing+=(dnsmasq-base)
  busybox_static_installed || missing+=(busybox-static)
  command -v g++ >/dev/null || missing+=(g++ make python3)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  ensure_promtool || log "promtool not installed: the promtool checks of deploy/prometheus and /metrics will be skipped"
}

# /bin/busybox statically linked (busybox-static, not Debian's dynamic busybox, which it replaces).
busybox_static_installed() { dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'ok installed'; }

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

# The user libvirt starts QEMU as under qemu:///system: qemu.conf's user=, else the
# distribution's default (Debian libvirt-qemu, Fedora qemu).
qemu_user() {
  local u
  u=$(sed -n 's/^[[:space:]]*user[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' /etc/libvirt/qemu.conf 2>/dev/null | tail -n1)
  if [ -n "$u" ]; then echo "${u#+}"; return; fi
  for u in libvirt-qemu qemu; do id "$u" >/dev/null 2>&1 && { echo "$u"; return; }; done
  return 0
}

# Whether user $1 may read and write /dev/kvm, from its owner, group, mode and the user's groups
# (works without root, unlike runuser).
user_can_open_kvm() {
  local uid mode owner group
  uid=$(id -u "$1") || return 1
  [ "$uid" = 0 ] && return 0
  read -r owner group mode < <(stat -c '%u %g %a' /dev/kvm)
  mode=$((8#$mode))
  if [ "$owner" = "$uid" ]; then [ $((mode & 8#600)) = $((8#600)) ]; return; fi
  if id -G "$1" | tr ' ' '\n' | grep -qx "$group"; then [ $((mode & 8#060)) = $((8#060)) ]; return; fi
  [ $((mode & 8#006)) = $((8#006)) ]
}

# Seconds libvirtd takes to answer a domain capabilities lookup: ~0.04 healthy, ~4 when it
# re-probes QEMU on every lookup (then each domain define takes ~33 s).
caps_lookup_seconds() {
  local t0 t1
  t0=$(date +%s%N); virsh -c qemu:///system domcapabilities >/dev/null 2>&1 || true; t1=$(date +%s%N)
  awk -v ns=$((t1 - t0)) 'BEGIN { printf "%.2f", ns / 1e9 }'
}

# A /dev/kvm that QEMU's user cannot open (root:root 0600: no udev rule ran, as in many
# containers) makes every domain start take ~35 s on libvirt 9.0: libvirtd finds "KVM was
# enabled when probing ..., but it is not available now" and re-probes QEMU about ten times.
# As root, apply what the distribution's udev rule does (KERNEL=="kvm", GROUP="kvm", MODE="0660").
ensure_kvm_access() {
  [ -e /dev/kvm ] || { log "no /dev/kvm: VMs on qemu:///system use software emulation (domain type qemu)"; return 0; }
  local user; user=$(qemu_user)
  [ -n "$user" ] || return 0
  user_can_open_kvm "$user" && return 0
  local before; before=$(stat -c '%U:%G 0%a' /dev/kvm)
  local fix="getent group kvm >/dev/null || groupadd --system kvm; usermod -aG kvm $user; chgrp kvm /dev/kvm; chmod 0660 /dev/kvm"
  if [ "$(id -u)" != 0 ] && ! command -v sudo >/dev/null; then
    log "/dev/kvm is $before and QEMU's user $user cannot open it: every VM start will take tens of seconds. As root run: $fix"
    return 0
  fi
  local slow; slow=$(caps_lookup_seconds)
  local added=""
  getent group kvm >/dev/null || as_root groupadd --system kvm
  if ! id -nG "$user" | tr ' ' '\n' | grep -qx kvm; then as_root usermod -aG kvm "$user"; added=" and added $user to group kvm"; fi
  as_root chgrp kvm /dev/kvm && as_root chmod 0660 /dev/kvm
  log "/dev/kvm was $before, which QEMU's user $user cannot open: made it root:kvm 0660$added (what the distribution's udev rule does)"
  # A running libvirtd may still hold the QEMU user's old groups, or keep missing its
  # capability cache: then restart it with an empty cache. (Measured here, libvirt 9.0: the
  # chmod alone sufficed, lookups went from 3.7-4.9 s to 0.06-0.14 s without a restart.)
  local now; now=$(caps_lookup_seconds)
  if [ -n "$added" ] || awk -v s="$now" 'BEGIN { exit !(s >= 1) }'; then
    log "restarting libvirtd with an empty QEMU capability cache"
    as_root rm -f /var/cache/libvirt/qemu/capabilities/*.xml
    restart_libvirtd
    caps_lookup_seconds >/dev/null # the first lookup after a restart probes QEMU once
    now=$(caps_lookup_seconds)
  fi
  log "libvirtd capabilities lookup: ${slow} s before, ${now} s after"
}

# Running domains survive this: QEMU keeps running and libvirtd reconnects to it.
restart_libvirtd() {
  if [ -d /run/systemd/system ]; then as_root systemctl restart libvirtd; return; fi
  local pid; pid=$(pgrep -xo libvirtd || true)
  if [ -n "$pid" ]; then
    as_root kill "$pid"
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  ensure_libvirtd
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
  # Also when node_modules was already there (installed before the patch existed); idempotent.
  node scripts/patches/postgres-js-connection-crashes.mjs
  log "building"
  npx turbo run build --output-logs=errors-only
}

# The one-machine mode's NAT network: libvirt's dnsmasq hands out addresses on a private
# subnet that exists only inside this machine (bridge virbr-drover). Defined once, started
# when inactive; DROVER_NAT_SUBNET picks another /24 prefix if 192.168.213 is taken here.
ensure_nat_network() {
  local net=drover-nat prefix=${DROVER_NAT_SUBNET:-192.168.213}
  if ! virsh -q -c qemu:///system net-info "$net" >/dev/null 2>&1; then
    log "defining libvirt network $net ($prefix.0/24, NAT, DHCP)"
    local xml; xml=$(mktemp)
    cat >"$xml" <<XML
<network>
  <name>$net</name>
  <forward mode='nat'/>
  <bridge name='virbr-drover' stp='off' delay='0'/>
  <ip address='$prefix.1' netmask='255.255.255.0'>
    <dhcp><range start='$prefix.10' end='$prefix.250'/></dhcp>
  </ip>
</network>
XML
    as_root virsh -q -c qemu:///system net-define "$xml" >/dev/null; local rc=$?
    rm -f "$xml"
    [ $rc = 0 ] || return 1
  fi
  # Read the whole answer first: with pipefail, grep -q closing the pipe early fails the pipeline.
  local info; info=$(virsh -q -c qemu:///system net-info "$net" 2>/dev/null || true)
  if ! grep -Eq '^Active: +yes' <<<"$info"; then
    as_root virsh -q -c qemu:///system net-start "$net" >/dev/null || { log "libvirt network $net did not start"; return 1; }
  fi
}
