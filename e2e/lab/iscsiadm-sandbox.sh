#!/bin/sh
# Runs a shell script with open-iscsi's iscsiadm in a sandbox, for tests only: iscsiadm wants an
# iSCSI transport in sysfs and writable records; this machine has no iSCSI kernel modules, so
# inside a private mount namespace we give it a tmpfs /sys/class with the tcp transport, and tmpfs
# record folders (lab notes). Nothing outside this process changes. Logins need the kernel's
# iscsi_tcp and cannot work here; discovery and node records do.
# Usage: unshare -m sh iscsiadm-sandbox.sh SCRIPT   (SCRIPT is run by sh; its environment is kept)
set -eu
mount --make-rprivate /
mount -t tmpfs none /sys/class
mkdir -p /sys/class/iscsi_transport/tcp
echo 1 > /sys/class/iscsi_transport/tcp/handle
echo 0x39 > /sys/class/iscsi_transport/tcp/caps
conf=$(cat /etc/iscsi/iscsid.conf 2>/dev/null || true)
for d in /etc/iscsi /var/lib/iscsi /run/lock/iscsi; do mkdir -p "$d" && mount -t tmpfs none "$d"; done
# Never try to start iscsid (there is none here; discovery does not need it).
printf '%s\n' "$conf" | grep -v '^iscsid.startup' > /etc/iscsi/iscsid.conf
mkdir -p /etc/iscsi/ifaces /etc/iscsi/nodes /etc/iscsi/send_targets
printf 'InitiatorName=%s\n' "iqn.2026-12.test.bootchain:sandbox-own-name" > /etc/iscsi/initiatorname.iscsi
# No sudo in the sandbox: the script runs as root already.
sudo() { "$@"; }
. "$1"
