#!/bin/sh
# SendTargets discovery with open-iscsi's iscsiadm, for parity checks and benchmarks only.
# iscsiadm wants an iSCSI transport in sysfs and writable records; this machine has no iSCSI
# kernel modules, so inside a private mount namespace we give it a tmpfs /sys/class with the
# tcp transport, and tmpfs record folders (lab notes). Nothing outside this process changes.
# Usage: iscsiadm-discovery.sh PORTAL INITIATOR_IQN [RUNS]   (run it under `unshare -m`)
# Discovery CHAP: set ISCSI_CHAP_USER and ISCSI_CHAP_SECRET in the environment.
set -eu
portal=$1
iqn=$2
runs=${3:-1}
. "$(dirname "$0")/iscsiadm-setup.sh"
printf 'InitiatorName=%s\n' "$iqn" > /etc/iscsi/initiatorname.iscsi
cat > /etc/iscsi/ifaces/bootchain <<IFACE
iface.iscsi_ifacename = bootchain
iface.transport_name = tcp
iface.initiatorname = $iqn
IFACE
# iscsid cannot run here (no NETLINK_ISCSI): iscsiadm then tries to start it and sleeps 1 s
# for each record it writes (open-iscsi usr/iscsid_req.c ipc_connect). The sleeps are counted
# from its log ("iscsid is not running") so that benchmarks can report its network time too.
i=0
while [ "$i" -lt "$runs" ]; do
  start=$(date +%s%N)
  if [ -n "${ISCSI_CHAP_USER:-}" ]; then
    {
      iscsiadm -m discoverydb -t st -p "$portal" -I bootchain -o new &&
      iscsiadm -m discoverydb -t st -p "$portal" -I bootchain -o update -n discovery.sendtargets.auth.authmethod -v CHAP &&
      iscsiadm -m discoverydb -t st -p "$portal" -I bootchain -o update -n discovery.sendtargets.auth.username -v "$ISCSI_CHAP_USER" &&
      iscsiadm -m discoverydb -t st -p "$portal" -I bootchain -o update -n discovery.sendtargets.auth.password -v "$ISCSI_CHAP_SECRET" &&
      iscsiadm -m discoverydb -t st -p "$portal" -I bootchain --discover -o nonpersistent
    } > /tmp/iscsiadm-out.$$ 2>/tmp/iscsiadm-err.$$ || { cat /tmp/iscsiadm-err.$$ >&2; exit 1; }
  else
    iscsiadm -m discovery -t st -p "$portal" -I bootchain -o nonpersistent > /tmp/iscsiadm-out.$$ 2>/tmp/iscsiadm-err.$$ || { cat /tmp/iscsiadm-err.$$ >&2; exit 1; }
  fi
  end=$(date +%s%N)
  sleeps=$(grep -c 'iscsid is not running' /tmp/iscsiadm-err.$$ || true)
  echo "# ms $(( (end - start) / 1000000 )) iscsid-sleeps $sleeps"
  i=$((i + 1))
done
cat /tmp/iscsiadm-out.$$
rm -f /tmp/iscsiadm-out.$$ /tmp/iscsiadm-err.$$
