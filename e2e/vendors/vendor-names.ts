/**
 * Target names as storage vendors really write them, each with where the format comes from.
 * Bootchain must carry every one of them exactly as the target reports it (capitals, dots,
 * colons, lower-case hex) into every file it writes: the targets compare names byte for byte
 * (stgt's target_find_by_name uses strcmp; dracut's iscsiroot.sh matches the discovered name
 * with `[ "$target" = "$iscsi_target_name" ]`), although RFC 3722 folds case for comparison.
 */

/** One vendor's name, the format it follows and the public source it was taken from. */
export interface VendorName {
  vendor: string;
  name: string;
  format: string;
  source: string;
}

export const VENDOR_NAMES: VendorName[] = [
  {
    vendor: 'Synology DSM (SAN Manager)',
    name: 'iqn.2000-01.com.synology:DS918.Target-1.5c0a3b',
    format: 'iqn.2000-01.com.synology:<NAS host name, case kept>.<target name>.<hex id>',
    // SynologyOpenSource/synology-csi pkg/models/dsm.go (IqnPrefix = "iqn.2000-01.com.synology:")
    // and pkg/dsm/service/dsm.go genTargetIqn (IqnPrefix + hostname + "." + name, no case folding).
    source: 'github.com/SynologyOpenSource/synology-csi pkg/models/dsm.go, pkg/dsm/service/dsm.go (genTargetIqn)',
  },
  {
    vendor: 'Synology DSM (default target)',
    name: 'iqn.2000-01.com.synology:DS923.Target-1.2c0d1f17e14',
    format: 'iqn.2000-01.com.synology:<host>.Target-<n>.<hex id> (what DSM generates for a new target)',
    // A public login script's prompt ("Enter target IQN (e.g., iqn.2000-01.com.synology:DS923.Target-1.2c0d1f17e14)").
    source: 'public iscsiadm login script (GitHub code search: "iqn.2000-01.com.synology:DS923.Target-1")',
  },
  {
    vendor: 'QNAP QTS',
    name: 'iqn.2004-04.com.qnap:ts-831x:iscsi.cinder-2017.9ef',
    format: 'iqn.2004-04.com.qnap:<model>:iscsi.<target alias>.<hex id>',
    // openstack/os-brick os_brick/tests/initiator/connectors/test_iscsi.py (test_get_discoverydb_portals).
    source: 'github.com/openstack/os-brick os_brick/tests/initiator/connectors/test_iscsi.py',
  },
  {
    vendor: 'TrueNAS / FreeNAS',
    name: 'iqn.2005-10.org.freenas.ctl:nas01:d03:01',
    format: '<global base name, default iqn.2005-10.org.freenas.ctl>:<target name: lower-case a-z 0-9 . - :>',
    // truenas/middleware src/middlewared/middlewared/plugins/iscsi_/targets.py: RE_TARGET_NAME
    // ^[-a-z0-9\.:]+$ and the full name f'{basename}:{name}'.
    source: 'github.com/truenas/middleware src/middlewared/middlewared/plugins/iscsi_/targets.py',
  },
  {
    vendor: 'Unraid (iSCSI plugin, LIO/targetcli)',
    name: 'iqn.2003-01.org.linux-iscsi.tower.x8664:sn.9b5b5c5f5e5d',
    format: 'iqn.2003-01.org.linux-iscsi.<host, lower case>.<arch>:sn.<12 hex>',
    // SimonFair/unraid.iSCSI source/iSCSITutorial.page ("iqn.2003-01.org.linux-iscsi.tower.x8664:sn.xxxxxxxxxxxx")
    // and open-iscsi/rtslib-fb rtslib/utils.py generate_wwn('iqn').
    source: 'github.com/SimonFair/unraid.iSCSI source/iSCSITutorial.page; github.com/open-iscsi/rtslib-fb rtslib/utils.py (generate_wwn)',
  },
  {
    vendor: 'Windows Server iSCSI Target',
    name: 'iqn.1991-05.com.microsoft:lon-svr1-lon-svr1-target',
    format: 'iqn.1991-05.com.microsoft:<server>-<target name>-target',
    // Microsoft Learning lab for Windows Server failover clustering (target list entry) and
    // MicrosoftDocs/azure-docs StorSimple on Linux (iscsiadm -m discovery lists
    // iqn.1991-05.com.microsoft:storsimple8100-shx0991003g44mt-target).
    source: 'MicrosoftLearning Windows Server lab (iSCSI Initiator Targets list); github.com/MicrosoftDocs/azure-docs articles/storsimple',
  },
  {
    vendor: 'EUI-64 name (RFC 3720)',
    name: 'eui.02004567A425678D',
    format: 'eui.<16 hex digits>',
    source: 'RFC 3720 §3.2.6.3.2 (example eui.02004567A425678D)',
  },
  {
    vendor: 'NAA name (RFC 3980), 64 and 128 bit',
    name: 'naa.62004567BA64678D0123456789ABCDEF',
    format: 'naa.<16 or 32 hex digits>',
    source: 'RFC 3980 §2 (examples naa.52004567BA64678D, naa.62004567BA64678D0123456789ABCDEF)',
  },
  {
    vendor: 'NAA name as LIO writes it (lower-case hex)',
    name: 'naa.6001405c3214b06a',
    format: 'naa.6001405<9 hex, lower case>',
    // open-iscsi/rtslib-fb rtslib/utils.py generate_wwn('naa'): "naa.6001405%s" % str(uuid.uuid4())[:10] without "-".
    source: 'github.com/open-iscsi/rtslib-fb rtslib/utils.py (generate_wwn)',
  },
];
