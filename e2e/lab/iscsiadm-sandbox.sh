#!/bin/sh
# Runs a shell script with open-iscsi's iscsiadm in a sandbox, for tests only: iscsiadm wants an
# iSCSI transport in sysfs and writable records; this machine has no iSCSI kernel modules, so
# inside a private mount namespace we give it a tmpfs /sys/class with the tcp transport, and tmpfs
# record folders (lab notes). Nothing outside this process changes. Logins need the kernel's
# iscsi_tcp and cannot work here; discovery and node records do.
# Usage: unshare -m sh iscsiadm-sandbox.sh SCRIPT   (SCRIPT is run by sh; its environment is kept)
set -eu
. "$(dirname "$0")/iscsiadm-setup.sh"
printf 'InitiatorName=%s\n' "iqn.2026-12.test.bootchain:sandbox-own-name" > /etc/iscsi/initiatorname.iscsi
# No sudo in the sandbox: the script runs as root already.
sudo() { "$@"; }
. "$1"
