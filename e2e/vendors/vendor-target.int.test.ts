import { execFile } from 'node:child_process';
import { closeSync, existsSync, openSync, rmSync, truncateSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discover } from '../../electron/services/iscsi/discovery';
import { probeTarget } from '../../electron/services/iscsi/probe';
import { runScript } from '../../electron/services/verify/script';
import { sampleProject } from '../../shared/gen/fixtures';
import { parseIscsiUri, stationScript } from '../../shared/gen/ipxe';
import { loadProject } from '../../shared/model/project';
import { addLabHost } from '../lab/lab';
import { labOrSkipReason } from '../support/lab-guard';
import { VENDOR_NAMES } from './vendor-names';

// A second tgtd on its own lab host (10.77.0.46) exports one target under each vendor name of
// the table, capitals and all. tgtd (stgt) keeps a name as created and finds a target by
// strcmp, like the NAS firmwares: discovery must report each name exactly, a login must use it
// exactly, and the name Bootchain writes into the per-MAC script must log in.
const lab = labOrSkipReason('vendor-target.int.test.ts');
const pexec = promisify(execFile);
const IP = '10.77.0.46';
const INI = 'iqn.2024-01.io.bootchain:vendor-names';
const SYNOLOGY = VENDOR_NAMES.find((v) => /[A-Z]/.test(v.name.slice(4)) && v.name.startsWith('iqn.'))!.name;
let host: Awaited<ReturnType<typeof addLabHost>> | undefined;
let ctl: number | undefined;

/** A tgtd control port whose socket no other tgtd (other labs, other tests) holds. */
function freeControlPort(prefix: string): number {
  let c = 3000;
  for (const ch of prefix) c = (c * 31 + ch.charCodeAt(0)) % 1000;
  for (let p = 3000 + c; ; p++) if (!existsSync(`/var/run/tgtd/socket.${p}`)) return p;
}
const tgtadm = (args: string[]) => pexec('/usr/sbin/tgtadm', ['-C', String(ctl), '--lld', 'iscsi', ...args]);

beforeAll(async () => {
  if (!lab) return;
  ctl = freeControlPort(lab.prefix);
  host = await addLabHost(lab, 'vndr', [IP]);
  host.daemon('tgtd', '/usr/sbin/tgtd', ['-f', '-C', String(ctl), '--iscsi', `portal=${IP}:3260`]);
  const until = Date.now() + 10_000;
  for (;;) {
    try {
      await tgtadm(['--op', 'show', '--mode', 'target']);
      break;
    } catch (e) {
      if (Date.now() > until) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (const [i, v] of VENDOR_NAMES.entries()) {
    const tid = String(i + 1);
    const file = path.join(lab.dir, `vendor-${tid}.img`);
    closeSync(openSync(file, 'w'));
    truncateSync(file, 8 << 20);
    await tgtadm(['--op', 'new', '--mode', 'target', '--tid', tid, '-T', v.name]);
    await tgtadm(['--op', 'new', '--mode', 'logicalunit', '--tid', tid, '--lun', '1', '-b', file]);
    await tgtadm(['--op', 'bind', '--mode', 'target', '--tid', tid, '-I', 'ALL']);
  }
}, 60_000);
afterAll(async () => {
  await host?.remove();
  if (ctl !== undefined) for (const f of [`/var/run/tgtd/socket.${ctl}`, `/var/run/tgtd/socket.${ctl}.lock`]) rmSync(f, { force: true });
});

describe.skipIf(!lab)('vendor target names against a real tgtd', () => {
  if (!lab) return void it.skip('needs the lab (see the SKIP line above)', () => undefined);

  it('tgtd takes every name of the table, and SendTargets reports each one exactly', async () => {
    const d = await discover({ host: IP, port: 3260, initiatorName: INI, timeoutMs: 5000 });
    expect(d.targets.map((t) => t.name).sort()).toEqual(VENDOR_NAMES.map((v) => v.name).sort());
  });

  it.each(VENDOR_NAMES)('$vendor: a login with $name as reported reaches its disk LUN', async ({ name }) => {
    const r = await probeTarget({ host: IP, port: 3260, initiatorName: INI, targetName: name, timeoutMs: 5000 });
    expect(r.target).toBe(name);
    expect(r.luns.find((l) => l.lun === 1)).toMatchObject({ deviceTypeName: 'disk', sizeBytes: 8 << 20 });
  });

  it('the case-folded name is not found (tgtd compares exactly), and the hint names the real one', async () => {
    const folded = SYNOLOGY.toLowerCase();
    const err = await probeTarget({ host: IP, port: 3260, initiatorName: INI, targetName: folded, timeoutMs: 5000 }).then(
      () => undefined,
      (e: { appError?: { code: string; hint: string } }) => e.appError,
    );
    expect(err).toMatchObject({ code: 'TARGET_NOT_FOUND', hint: expect.stringContaining(SYNOLOGY) });
  });

  it("the per-MAC script Bootchain writes, walked by verify's script runner, logs in to the Synology target", async () => {
    const s = sampleProject();
    const r = loadProject({ ...s, nas: { ...s.nas!, address: IP }, workstations: [{ ...s.workstations![0]!, target: SYNOLOGY }] });
    if (!r.ok) throw new Error(JSON.stringify(r.errors));
    const script = stationScript(r.value, r.value.workstations[0]!, 0, () => '');
    const run = await runScript(script.text, `tftp://${IP}/${script.name}`, { fetch: async (url) => ({ url, ok: false, error: 'not used' }), dhcp: async () => undefined }, { mac: '52:54:00:12:34:56' });
    const sb = run.events.find((e) => e.kind === 'sanboot') as { uris: string[]; settings: Record<string, string> };
    const u = parseIscsiUri(sb.uris[0]!);
    if (!u.ok) throw new Error(u.reason);
    expect(u.value.target).toBe(SYNOLOGY);
    const pr = await probeTarget({ host: u.value.server, port: u.value.port ?? 3260, initiatorName: sb.settings['initiator-iqn']!, targetName: u.value.target, timeoutMs: 5000 });
    expect(pr.luns.find((l) => l.lun === u.value.lun)).toMatchObject({ deviceTypeName: 'disk' });
  });
});
