import { formatBytes } from '../../../shared/bytes';
import { DISCOVERY_INITIATOR } from '../../../shared/iscsi';
import { chapFrom, CHAP_FLAGS, parsePortal } from '../inputs';
import { usage, verb } from '../options';
import { print, printJson } from '../render';
import { Session } from '../session';

const TIMEOUT = { name: 'timeout', value: 'MS', help: 'deadline of each protocol step (default 10000)', field: 'timeoutMs' } as const;
const deadline = (times: number) => ({ name: 'deadline', value: 'MS', help: `deadline of the whole job per portal, however the target keeps it going (default ${times} x --timeout)`, field: 'deadlineMs' }) as const;

export const discover = verb({
  name: 'discover',
  usage: ['discover <portal>...'],
  summary:
    'SendTargets discovery on each portal (`address[:port]`, IPv6 as `[addr]:port`), merged; prints `IP:PORT,TPGT IQN` lines like `iscsiadm -m discovery -t st`, or `--json`.',
  flags: [{ name: 'initiator', value: 'IQN', help: `the initiator name to log in as (default ${DISCOVERY_INITIATOR})`, field: 'initiatorName' }, ...CHAP_FLAGS, TIMEOUT, deadline(6)],
  async run(a) {
    if (a.pos.length === 0) throw usage('discover needs at least one portal, e.g. bootchain discover 192.168.1.20');
    const input = { portals: a.pos.map(parsePortal), initiatorName: a.str('initiator'), chap: await chapFrom(a), timeoutMs: a.int('timeout'), deadlineMs: a.int('deadline') };
    const r = await new Session().job('iscsi:discover', input, { out: a, logs: 'verbose', prefix: 'discover: ' });
    if (a.json) printJson(r);
    // The same lines as `iscsiadm -m discovery -t st`: one per target and portal.
    else for (const t of r.targets) for (const p of t.portals) print(`${p.address.includes(':') ? `[${p.address}]` : p.address}:${p.port},${p.tpgt ?? 1} ${t.name}`);
    for (const f of r.failures) process.stderr.write(`bootchain: ${f.portal.address}:${f.portal.port}: ${f.error.message}\n  ${f.error.hint}\n`);
    return r.failures.length === 0 ? 0 : 1;
  },
});

export const probe = verb({
  name: 'probe',
  usage: ['probe <portal> <target-iqn> --initiator IQN'],
  summary:
    "log in as the workstation's IQN and describe the target: every LUN (type, vendor, product, serial), size, partition table, EFI system partition, and which LUN holds the disk (what `sanboot` must name).",
  about:
    '--json: { portal, target, initiator, luns: [ { lun, deviceType, deviceTypeName, vendor, product, revision, serial, blockSize, blocks, sizeBytes, layout: { scheme, bootSignature, bootable, partitions, esp, verdict, summary } } ], bootLun, digests, durationMs }.',
  flags: [
    { name: 'initiator', value: 'IQN', help: "the workstation's initiator name (required)", field: 'initiatorName' },
    ...CHAP_FLAGS,
    { name: 'digests', value: 'none|prefer|require', help: 'CRC32C header and data digests (default none)', field: 'digests' },
    TIMEOUT,
    deadline(12),
  ],
  async run(a) {
    const [portalText, target, ...rest] = a.pos;
    if (!portalText || !target || rest.length > 0) throw usage('probe takes <portal> <target-iqn> --initiator IQN');
    const initiatorName = a.str('initiator');
    if (!initiatorName) throw usage("probe needs --initiator IQN (the workstation's initiator name)");
    const input = { ...parsePortal(portalText), target, initiatorName, chap: await chapFrom(a), digests: a.str('digests') as 'none' | 'prefer' | 'require' | undefined, timeoutMs: a.int('timeout'), deadlineMs: a.int('deadline') };
    const r = await new Session().job('iscsi:probe', input, { out: a, logs: 'verbose', prefix: 'probe: ' });
    if (a.json) {
      printJson(r);
      return 0;
    }
    print(`${r.target} on ${r.portal.address}:${r.portal.port} as ${r.initiator}`);
    for (const l of r.luns) {
      const size = l.sizeBytes !== undefined ? ` ${formatBytes(l.sizeBytes)} (${l.blocks} x ${l.blockSize})` : '';
      print(`  LUN ${l.lun}: ${l.deviceTypeName}, ${l.vendor} ${l.product} ${l.revision}${l.serial ? `, serial ${l.serial}` : ''}${size}${l.layout ? `, ${l.layout.summary}` : ''}`);
    }
    print(r.bootLun !== undefined ? `  boot disk: LUN ${r.bootLun}` : '  no disk LUN');
    return 0;
  },
});
