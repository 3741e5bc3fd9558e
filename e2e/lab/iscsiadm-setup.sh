# Sourced by iscsiadm-sandbox.sh and iscsiadm-discovery.sh (inside `unshare -m`): iscsiadm wants
# an iSCSI transport in sysfs and writable records; this machine has no iSCSI kernel modules, so
# a tmpfs /sys/class gets the tcp transport, and the record folders are tmpfs (lab notes).
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
