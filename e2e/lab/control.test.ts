import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { labIscsiPlan, type LabInfo } from './lab';
import { labStatus, labUpReport } from './control';

const pexec = promisify(execFile);
const CLI = path.join(import.meta.dirname, 'cli.ts');
const TSX = path.join(import.meta.dirname, '../../node_modules/.bin/tsx');

/** A lab description as labUp writes it (the lab's own fixed credentials; no lab is built here). */
function sampleInfo(dir: string): LabInfo {
  const ns = { switch: 'bct-sw', desk: 'bct-desk', nas: 'bct-nas', router: 'bct-rtr', misc: 'bct-misc', nas2: 'bct-nas2' };
  return {
    prefix: 'bct',
    dir,
    subnet: '10.77.0.0/24',
    namespaces: ns,
    desk: { ip: '10.77.0.10' },
    router: { ip: '10.77.0.1' },
    nas: { ips: ['10.77.0.20', '10.77.0.21', '10.77.0.22'], sshPort: 22, tftpRoot: path.join(dir, 'tftp'), tgtControlPorts: [4100, 4101] },
    ssh: {
      host: '10.77.0.20',
      port: 22,
      hostKeyPub: path.join(dir, 'ssh/host.pub'),
      root: { user: 'root', key: path.join(dir, 'ssh/id_ed25519'), passphrase: 'lab-key-passphrase-4711', agentKey: path.join(dir, 'ssh/agent_ed25519') },
      password: { user: 'labuser', password: 'lab-login-pw-0815', home: '/run/bootchain-lab-bct-home/labuser' },
      sftpOnly: { user: 'tftpup', key: path.join(dir, 'ssh/sftp_ed25519'), chroot: '/run/bootchain-lab-bct-sftp', root: '/tftp' },
    },
    iscsi: labIscsiPlan(),
    iscsiPortals: ['10.77.0.20:3260'],
    nonIscsi: ['10.77.0.31:3260'],
    closedHosts: ['10.77.0.30'],
    names: { '10.77.0.20': 'nas.lab' },
    fixedRange: '10.77.0.1-10.77.0.40',
  };
}

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(path.join(os.tmpdir(), 'bc-labctl-'));
  dirs.push(d);
  return d;
};
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Every secret a lab description holds. */
const secretsOf = (info: LabInfo) => {
  const c = info.iscsi.chap;
  return [c.oneWay.secret, c.mutual.secret, c.mutual.targetSecret, c.discovery.secret, c.discovery.targetSecret, info.ssh.root.passphrase, info.ssh.password.password];
};

describe('lab up: what it prints', () => {
  it('no secret of the lab, and where the full lab.json (with its test secrets) is', () => {
    const dir = tmp();
    const info = sampleInfo(dir);
    const out = labUpReport(info);
    for (const s of secretsOf(info)) expect(out).not.toContain(s);
    expect(out).toContain(`${path.join(dir, 'lab.json')}`);
    expect(out).toMatch(/test-only secrets/);
    expect(out).toContain('ip netns exec bct-desk');
    // The rest of the description is all there: the redacted copy is still JSON a reader can use.
    const json = JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as LabInfo;
    expect(json.iscsi.targets).toEqual(info.iscsi.targets);
    expect(json.ssh.password.user).toBe('labuser');
    expect(json.iscsi.chap.mutual.username).toBe(info.iscsi.chap.mutual.username);
  });
});

describe('lab status', () => {
  it('up: every namespace and lab.json are there; prints the description without secrets', () => {
    const dir = tmp();
    const info = sampleInfo(dir);
    writeFileSync(path.join(dir, 'lab.json'), JSON.stringify(info));
    const s = labStatus({ prefix: 'bct', dir, namespaces: [...Object.values(info.namespaces), 'bct-dhcp2', 'bcv-desk'] });
    expect(s.code).toBe(0);
    expect(s.text).toMatch(/^lab bct: up/);
    expect(s.text).toContain('bct-dhcp2');
    expect(s.text).not.toContain('bcv-desk');
    for (const x of secretsOf(info)) expect(s.text).not.toContain(x);
  });

  it('down: no namespace, no lab.json', () => {
    const s = labStatus({ prefix: 'bct', dir: path.join(tmp(), 'none'), namespaces: ['bcv-desk'] });
    expect(s).toEqual({ code: 1, text: 'lab bct: down\n' });
  });

  it('down after `lab down` (its folder stays, with the last lab.json): down, and where that is', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'lab.json'), JSON.stringify(sampleInfo(dir)));
    const s = labStatus({ prefix: 'bct', dir, namespaces: [] });
    expect(s).toEqual({ code: 1, text: `lab bct: down (the last run's description and logs are in ${dir})\n` });
  });

  it('up with an unreadable lab.json: says so, never throws (the CLI would take the lab down)', () => {
    const dir = tmp();
    writeFileSync(path.join(dir, 'lab.json'), '{"prefix": "bct", ');
    const s = labStatus({ prefix: 'bct', dir, namespaces: ['bct-sw', 'bct-desk', 'bct-nas', 'bct-rtr', 'bct-misc', 'bct-nas2'] });
    expect(s.code).toBe(1);
    expect(s.text).toContain(`${path.join(dir, 'lab.json')} cannot be read`);
  });

  it('leftovers of a crashed run: partly up, and how to clean up', () => {
    const s = labStatus({ prefix: 'bct', dir: path.join(tmp(), 'none'), namespaces: ['bct-sw', 'bct-nas'] });
    expect(s.code).toBe(1);
    expect(s.text).toMatch(/partly up/);
    expect(s.text).toContain('npm run lab -- down');
  });

  it('the CLI has the verb: `status` of a prefix with no lab says down, exit 1', async () => {
    const r = await pexec(TSX, [CLI, 'status'], { env: { ...process.env, BOOTCHAIN_LAB_PREFIX: 'bcqz' } }).then(
      (x) => ({ code: 0, stdout: x.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
    );
    expect(r).toEqual({ code: 1, stdout: 'lab bcqz: down\n' });
  }, 30_000);

  it('usage names only verbs that exist', async () => {
    const r = await pexec(TSX, [CLI, 'help']);
    expect(r.stdout).toBe('usage: tsx e2e/lab/cli.ts up | down | status | run -- <command...>\n');
  }, 30_000);
});
