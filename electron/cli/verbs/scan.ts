import { parsePorts } from '../../../shared/ipv4';
import { ISCSI_PORT, type Portal, type ScanResult } from '../../../shared/scan';
import { usage, verb } from '../options';
import { print, printJson } from '../render';
import { Session } from '../session';

function printPortals(portals: Portal[], r?: ScanResult): void {
  for (const p of portals) print(`${p.address}:${p.port}\t${p.iscsi === true ? 'iSCSI' : p.iscsi === false ? 'not-iSCSI' : 'open'}\t${p.name ?? ''}`);
  if (r) print(`# ${r.portals.length} open, ${r.closed} closed, ${r.silent} silent, ${r.probed} probed in ${r.durationMs} ms`);
}

export const scan = verb({
  name: 'scan',
  usage: ['scan <target>...'],
  summary:
    'TCP connect scan for iSCSI portals, then an iSCSI login check of each open port. Targets: `192.168.1.0/24`, `192.168.1.5`, `192.168.1.5-192.168.1.20`.',
  about:
    "The wait per connect adapts to the round trips seen (like nmap's); each open port gets a discovery-session iSCSI Login Request and counts as a portal only when a Login Response comes back. --json: { portals: [ { address, port, iscsi: true|false|null, name?, evidence?, rttMs } ], probed, closed, silent, durationMs, blocks, ports }.",
  flags: [
    { name: 'ports', value: 'LIST', help: 'ports to scan: 3260, 3260,860 or 3260-3262 (default 3260)', field: 'ports' },
    { name: 'timeout', value: 'MS', help: 'longest wait per connect (default 1000)', field: 'timeoutMs' },
    { name: 'min-timeout', value: 'MS', help: 'the wait adapts to the round trips seen, never below this (default 250)', field: 'minTimeoutMs' },
    { name: 'concurrency', value: 'N', help: 'connects in flight (default 256)', field: 'concurrency' },
    { name: 'check-timeout', value: 'MS', help: 'wait for the iSCSI login response of an open port (default 500)', field: 'checkTimeoutMs' },
    { name: 'no-check', help: 'do not check open ports for iSCSI (iscsi: null)' },
    { name: 'no-names', help: 'skip reverse-DNS names' },
    { name: 'yes-large', help: 'allow more than a /16 (at most a /8)', field: 'confirmLarge' },
    { name: 'yes-public', help: 'allow addresses outside private ranges (scan only networks you own)', field: 'confirmPublic' },
  ],
  async run(a) {
    if (a.pos.length === 0) throw usage('scan needs at least one target, e.g. bootchain scan 192.168.1.0/24');
    const portsText = a.str('ports');
    const ports = portsText === undefined ? { ok: true as const, value: [ISCSI_PORT] } : parsePorts(portsText);
    if (!ports.ok) throw usage(`--ports: ${ports.reason}`);
    const input = {
      targets: a.pos,
      ports: ports.value,
      timeoutMs: a.int('timeout'),
      minTimeoutMs: a.int('min-timeout'),
      concurrency: a.int('concurrency'),
      confirmIscsi: !a.has('no-check'),
      checkTimeoutMs: a.int('check-timeout'),
      resolveNames: !a.has('no-names'),
      confirmLarge: a.has('yes-large'),
      confirmPublic: a.has('yes-public'),
    };
    const r = await new Session().job('scan:start', input, { out: a, logs: 'all' });
    if (a.json) printJson(r);
    else printPortals(r.portals, r);
    return 0;
  },
});

export const check = verb({
  name: 'check',
  usage: ['check <address>[:port]'],
  summary: 'check one portal by hand: connect, iSCSI login check, reverse name (exit 1 when it is not iSCSI)',
  flags: [],
  async run(a) {
    const t = a.pos[0];
    if (!t || a.pos.length > 1) throw usage('check takes one address[:port]');
    const m = /^([\d.]+)(?::(\d+))?$/.exec(t);
    if (!m) throw usage(`"${t}" is not address[:port]`);
    const p = await new Session().call('portal:check', { address: m[1]!, port: m[2] ? Number(m[2]) : ISCSI_PORT });
    if (a.json) printJson(p);
    else printPortals([p]);
    return p.iscsi ? 0 : 1;
  },
});
