import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BootchainError } from '../../../shared/errors';
import { qemuOptValue, qemuStartError, vmInstall, vmInstallArgs, type VmInstallOptions } from './vm-install';

const dir = mkdtempSync(path.join(os.tmpdir(), 'vm-install-test-'));
const iso = path.join(dir, 'an, odd,name.iso');
writeFileSync(iso, 'not really an ISO');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = 'Abcdefgh2345';
const base = (over: Partial<VmInstallOptions> = {}): VmInstallOptions => ({
  firmware: 'bios',
  mac: '52-54-00-AA-BB-CC',
  iso,
  disk: { host: '10.77.0.20', port: 3260, target: 'iqn.2026-11.test.bootchain.lab:ws1', lun: 1, initiator: 'iqn.2026-11.test.bootchain:ws1', chap: { username: 'ws-user', secret: SECRET } },
  timeoutMs: 1000,
  qemu: process.execPath, // never started: every case here is refused before QEMU runs
  ...over,
});

/** The error vmInstall throws at once for these options. */
function refusal(o: VmInstallOptions) {
  try {
    vmInstall(o);
  } catch (e) {
    if (e instanceof BootchainError) return e.appError;
    throw e;
  }
  throw new Error('vmInstall accepted the options');
}

describe('vmInstall: values reaching QEMU are checked first', () => {
  it.each([
    ['mac', { mac: '01:00:5e:00:00:01' }, /multicast/],
    ['iso', { iso: 'https://example.org/debian.iso' }, /is a URL: download the ISO first/],
    ['iso', { iso: 'relative/debian.iso' }, /absolute path/],
    ['iso', { iso: '/x/a\nb.iso' }, /control characters/],
    ['host', { disk: { ...base().disk, host: '10.77.0.20,file=/etc/passwd' } }, /not an IPv4 address or host name/],
    ['port', { disk: { ...base().disk, port: 70000 } }, /not 1 to 65535/],
    ['lun', { disk: { ...base().disk, lun: -1 } }, /not 0 to 16383/],
    ['target', { disk: { ...base().disk, target: 'iqn.2026-11.test.lab:ws1/2' } }, /Target name/],
    ['initiator', { disk: { ...base().disk, initiator: 'iqn.2026-11.test.lab:a,b' } }, /Initiator name/],
    ['chap.username', { disk: { ...base().disk, chap: { username: 'a,user=x', secret: SECRET } } }, /CHAP user/],
    ['chap.secret', { disk: { ...base().disk, chap: { username: 'u', secret: 'short' } } }, /CHAP secret: at least 12/],
  ] as const)('%s: %s', (field, over, message) => {
    const a = refusal(base(over as Partial<VmInstallOptions>));
    expect(a.code).toBe('INVALID_INPUT');
    expect(a.field).toBe(field);
    expect(a.message).toMatch(message);
  });

  it('a missing ISO is NOT_FOUND; a refused secret is never echoed', () => {
    expect(refusal(base({ iso: path.join(dir, 'gone.iso') })).code).toBe('NOT_FOUND');
    const a = refusal(base({ disk: { ...base().disk, chap: { username: 'u', secret: 'has space in it' } } }));
    expect(JSON.stringify(a)).not.toContain('has space');
  });
});

describe('vmInstallArgs', () => {
  const args = vmInstallArgs(base(), { mac: '52:54:00:aa:bb:cc', vnc: { display: 17, websocketPort: 41000 }, vncSecretFile: '/run/x/vnc', chapSecretFile: '/run/x/chap' });
  const after = (flag: string) => args.filter((_, i) => args[i - 1] === flag);

  it('puts the LUN on QEMU iSCSI driver, the secret only as a file, the ISO as a CD booted once', () => {
    expect(args.join(' ')).not.toContain(SECRET);
    expect(after('-iscsi')).toEqual(['initiator-name=iqn.2026-11.test.bootchain:ws1,user=ws-user,password-secret=chap']);
    expect(after('-object')).toEqual(['secret,id=vncpw,file=/run/x/vnc', 'secret,id=chap,file=/run/x/chap']);
    expect(after('-drive')).toEqual([
      // A comma in a path is doubled, QEMU's own escape.
      `file=${dir}/an,, odd,,name.iso,if=none,id=cd,media=cdrom,readonly=on,format=raw`,
      'file=iscsi://10.77.0.20:3260/iqn.2026-11.test.bootchain.lab:ws1/1,if=none,id=lun,format=raw',
    ]);
    expect(after('-boot')).toEqual(['order=c,once=d']);
    expect(args).toContain('-no-reboot');
    expect(after('-monitor')).toEqual(['none']);
  });

  it('VNC and its WebSocket on loopback only, with the run password', () => {
    expect(after('-vnc')).toEqual(['127.0.0.1:17,websocket=127.0.0.1:41000,password-secret=vncpw']);
  });

  it('the workstation NIC and MAC as the VM test boot gives them', () => {
    expect(after('-device')).toContain('e1000,netdev=n0,mac=52:54:00:aa:bb:cc');
    expect(after('-netdev')).toEqual(['user,id=n0']);
    const none = vmInstallArgs(base({ network: { kind: 'none' }, allowReboot: true, disk: { ...base().disk, chap: undefined } }), { mac: 'm', vnc: { display: 1, websocketPort: 2 }, vncSecretFile: '/v' });
    expect(none).not.toContain('-netdev');
    expect(none).not.toContain('-no-reboot');
    expect(none.filter((_, i) => none[i - 1] === '-iscsi')).toEqual(['initiator-name=iqn.2026-11.test.bootchain:ws1']);
  });

  it('qemuOptValue doubles commas', () => {
    expect(qemuOptValue('a,b,,c')).toBe('a,,b,,,,c');
  });
});

describe("qemuStartError: QEMU 7.2's own words (as printed in the lab runs) in Bootchain's", () => {
  const o = { disk: base().disk, iso };
  const drive = 'qemu-system-x86_64: -drive file=iscsi://10.77.0.20:3260/iqn.2026-11.test.bootchain.lab:ws1/1,if=none,id=lun,format=raw: iSCSI: Failed to connect to LUN : ';
  it.each([
    ['Failed to log in to target. Status: Authentication failure(513)', 'AUTH_FAILED'],
    ['Failed to log in to target. Status: Target not found(515)', 'TARGET_NOT_FOUND'],
    ['SENSE KEY:ILLEGAL_REQUEST(5) ASCQ:LOGICAL_UNIT_NOT_SUPPORTED(0x2500)', 'NOT_FOUND'],
    ['iscsi_service failed with : iscsi_service_reconnect_if_loggedin. Can not reconnect right now.', 'UNREACHABLE'],
    ['something new', 'COMMAND_FAILED'],
  ])('%s → %s', (text, code) => {
    expect(qemuStartError(drive + text, o).code).toBe(code);
  });
});
