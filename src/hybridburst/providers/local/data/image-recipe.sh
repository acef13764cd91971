#!/usr/bin/env bash
# Recipe of the local cloud's host image (the "golden image" of the local provider).
# Usage: image-recipe.sh ROOTFS_DIR
# The image tag carries a hash of this file: edit it and the image is rebuilt.
# Everything a role installs must be in here: burst hosts have no route to a mirror,
# exactly like a public-cloud instance that only reaches the private side.
set -euo pipefail
rootfs=$1
packages=(
  systemd systemd-sysv dbus openssh-server python3 python3-apt sudo iproute2 nftables
  procps curl ca-certificates haproxy prometheus-node-exporter chrony rsyslog less
)
includes=$(IFS=,; echo "${packages[*]}")
debootstrap --variant=minbase --include="$includes" bookworm "$rootfs" http://deb.debian.org/debian

chroot_run() { chroot "$rootfs" /bin/sh -c "$1"; }

# The cloud image's login user: key-only, passwordless sudo (cloud-init's default user).
chroot_run 'useradd --create-home --shell /bin/bash admin && passwd --lock admin'
install -d -m 0700 "$rootfs/home/admin/.ssh"
chroot_run 'chown admin:admin /home/admin/.ssh'
printf 'admin ALL=(ALL) NOPASSWD:ALL\n' > "$rootfs/etc/sudoers.d/90-cloud-admin"
chmod 0440 "$rootfs/etc/sudoers.d/90-cloud-admin"

# Host keys are made on first boot, so no two hosts share one: the ed25519 key only (the one
# hybridburst reads and pins). `ssh-keygen -A` also made RSA and ECDSA keys: about 0.6 s of CPU
# at every boot, which 30 hosts booting on 2 cores feel.
rm -f "$rootfs"/etc/ssh/ssh_host_*
cat > "$rootfs/etc/systemd/system/ssh-hostkeys.service" <<'UNIT'
[Unit]
Description=Generate SSH host keys on first boot
Before=ssh.service
ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key

[Service]
Type=oneshot
ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -C "" -f /etc/ssh/ssh_host_ed25519_key

[Install]
WantedBy=multi-user.target
UNIT
ln -sf /etc/systemd/system/ssh-hostkeys.service "$rootfs/etc/systemd/system/multi-user.target.wants/ssh-hostkeys.service"

# Services a bare host should not start by itself: roles enable what a host needs.
for unit in haproxy prometheus-node-exporter chrony rsyslog nftables; do
  rm -f "$rootfs/etc/systemd/system/multi-user.target.wants/$unit.service"
done
# Units that make no sense in a container.
for unit in getty.target systemd-remount-fs.service systemd-udevd.service \
            systemd-udev-trigger.service systemd-modules-load.service \
            apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer fstrim.timer; do
  ln -sf /dev/null "$rootfs/etc/systemd/system/$unit"
done
printf 'PasswordAuthentication no\nKbdInteractiveAuthentication no\n' \
  > "$rootfs/etc/ssh/sshd_config.d/10-cloud-image.conf"
: > "$rootfs/etc/machine-id"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
