#!/usr/bin/env bash
# Builds a minimal bootable test guest from Debian packages only: the cloud kernel
# (linux-image-cloud-amd64, unpacked, never installed into the host's /boot) and a
# busybox initramfs whose /init reads the cloud-init NoCloud seed, runs shell user
# data, takes a DHCP address (or the seed's static one) and powers off on ACPI.
#
# Usage: scripts/build-test-guest.sh [DIR]   (default /var/lib/drover/test-guest)
# Prints DIR; DIR then holds vmlinuz, initrd.img and cmdline. A second run with the
# same kernel version and the same script does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh

out=${1:-${DROVER_TEST_GUEST_DIR:-/var/lib/drover/test-guest}}

# Kernel modules the guest loads, in dependency order. The cloud kernel builds them as
# modules (CONFIG_VIRTIO_NET=m, ...) and has no AHCI, so the seed rides virtio-scsi.
MODULES="virtio_ring virtio virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
  failover net_failover virtio_net virtio_blk
  scsi_common scsi_mod virtio_scsi cdrom sr_mod isofs
  evdev button"

kernel_package() {
  local pkg
  pkg=$(apt-cache depends linux-image-cloud-amd64 2>/dev/null | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
  if [ -z "$pkg" ]; then
    as_root apt-get update -qq
    pkg=$(apt-cache depends linux-image-cloud-amd64 | sed -n 's/^ *Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1)
  fi
  [ -n "$pkg" ] || { log "apt knows no linux-image-cloud-amd64"; return 1; }
  echo "$pkg"
}

busybox_static_installed || {
  log "installing busybox-static"
  as_root apt-get install -y -qq --no-install-recommends busybox-static >/dev/null
}
busybox_bin=/bin/busybox # busybox-static's: the initramfs has no libc
pkg=$(kernel_package)
version=$(apt-cache policy "$pkg" | sed -n 's/^ *Candidate: //p')
stamp="$pkg $version $(sha256sum "$0" | cut -c1-16) $(sha256sum "$busybox_bin" | cut -c1-16)"
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.img" ]; then
  echo "$out"; exit 0
fi

log "building the test guest in $out ($pkg $version)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
chmod 755 "$work" # apt fetches as the _apt user
(cd "$work" && apt-get download -qq "$pkg")
dpkg-deb -x "$work"/linux-image-*.deb "$work/kernel"
kver=${pkg#linux-image-}
root="$work/root"
mkdir -p "$root"/{bin,dev,proc,sys,run,tmp,seed,etc/acpi/PWRF,usr/share/udhcpc,lib/modules}
cp "$busybox_bin" "$root/bin/busybox"
for m in $MODULES; do
  f=$(find "$work/kernel/lib/modules/$kver" -name "$m.ko" -o -name "$m.ko.xz" | head -n1)
  [ -n "$f" ] || { log "module $m is not in $pkg"; exit 1; }
  case $f in *.xz) xz -dc "$f" >"$root/lib/modules/$m.ko" ;; *) cp "$f" "$root/lib/modules/$m.ko" ;; esac
done
echo "$MODULES" | tr -s ' \n' '\n' | sed '/^$/d' >"$root/lib/modules/order"

cat >"$root/init" <<'EOF'
#!/bin/busybox sh
# Drover's test guest: NoCloud seed, shell user data, DHCP or static IPv4, ACPI power off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
exec </dev/console >/dev/console 2>&1
say() { echo "drover-guest: $*"; }
say "booted $(uname -r)"
while read -r m; do insmod "/lib/modules/$m.ko" 2>/dev/null || say "module $m did not load"; done </lib/modules/order
mkdir -p /dev/input
mdev -s
acpid -c /etc/acpi -l /tmp/acpid.log
say "acpid listening for the power button"

# The seed: an ISO9660 volume labelled cidata (a cdrom here).
seed=""
for i in $(seq 1 50); do
  for dev in /dev/sr0 /dev/sr1 /dev/vdb /dev/vdc; do
    [ -b "$dev" ] && mount -t iso9660 -o ro "$dev" /seed 2>/dev/null && { seed=$dev; break 2; }
  done
  sleep 0.1
done
[ -n "$seed" ] && say "seed on $seed: $(ls /seed | tr '\n' ' ')" || say "no seed"

# network-config v2 with a static address (as the agent writes it): addresses, gateway4, nameservers.
nc=/seed/network-config
static=""; gw=""; dns=""
if [ -f "$nc" ]; then
  static=$(sed -n 's/^ *addresses: *\[\([0-9.]*\/[0-9]*\)\].*/\1/p' "$nc" | head -n1)
  gw=$(sed -n 's/^ *gateway4: *\([0-9.]*\).*/\1/p' "$nc" | head -n1)
  dns=$(sed -n '/nameservers:/,$s/^ *addresses: *\[\([0-9., ]*\)\].*/\1/p' "$nc" | head -n1 | tr -d ' ' | tr ',' ' ')
fi
ip link set lo up
nic=$(ls /sys/class/net | grep -v '^lo$' | head -n1)
if [ -z "$nic" ]; then
  say "no network interface"
elif [ -n "$static" ]; then
  ip link set "$nic" up
  ip addr add "$static" dev "$nic"
  [ -n "$gw" ] && ip route add default via "$gw"
  for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
  say "static address $static on $nic"
else
  ip link set "$nic" up
  udhcpc -i "$nic" -q -t 20 -T 1 -n -s /usr/share/udhcpc/default.script >/tmp/udhcpc.log 2>&1 || say "no DHCP lease on $nic"
fi

if [ -f /seed/user-data ] && head -n1 /seed/user-data | grep -q '^#!'; then
  say "running user-data"
  cp /seed/user-data /tmp/user-data && chmod 700 /tmp/user-data && /tmp/user-data
  say "user-data exited $?"
fi
say "ready"
while :; do sleep 3600; done
EOF

cat >"$root/usr/share/udhcpc/default.script" <<'EOF'
#!/bin/sh
# udhcpc's hook: apply the lease and say it on the console.
case "$1" in
  deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
  bound|renew)
    ip addr flush dev "$interface"
    ip addr add "$ip/${mask:-24}" dev "$interface"
    [ -n "$router" ] && ip route add default via "${router%% *}" dev "$interface"
    for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf; done
    echo "drover-guest: dhcp address $ip/${mask:-24} on $interface" >/dev/console ;;
esac
EOF

# busybox acpid runs /etc/acpi/PWRF/00000080 on the power button (KEY_POWER through evdev).
cat >"$root/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
echo "drover-guest: power button: shutting down" >/dev/console
umount /seed 2>/dev/null
sync
echo "drover-guest: powering off" >/dev/console
poweroff -f
EOF
chmod 755 "$root/init" "$root/usr/share/udhcpc/default.script" "$root/etc/acpi/PWRF/00000080"

as_root mkdir -p "$out"
(cd "$root" && find . | LC_ALL=C sort | busybox cpio -o -H newc 2>/dev/null | gzip -9) >"$work/initrd.img"
as_root install -m 0644 "$work/kernel/boot/vmlinuz-$kver" "$out/vmlinuz"
as_root install -m 0644 "$work/initrd.img" "$out/initrd.img"
echo "console=ttyS0 quiet" | as_root tee "$out/cmdline" >/dev/null
echo "$stamp" | as_root tee "$out/stamp" >/dev/null
as_root chmod 0755 "$out"
log "test guest: $out/vmlinuz, $out/initrd.img ($(du -h "$out/initrd.img" | cut -f1))"
echo "$out"
