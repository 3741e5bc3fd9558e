import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, runBuiltCli } from './run-cli';
import { labOrSkipReason } from '../../e2e/support/lab-guard';
import { SAMPLE_SECRETS, sampleProject } from '../../shared/gen/fixtures';

// `bootchain upload / backups / rollback / hostkey` against the lab NAS's sshd.
const lab = labOrSkipReason('cli-upload.int.test.ts');
const cli = (args: string[], env: Record<string, string> = {}) => runBuiltCli(args, { SSH_AUTH_SOCK: '', ...env });
if (lab && !existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);


describe.skipIf(!lab)('bootchain upload / rollback CLI', () => {
  it('first use needs --trust; dry run writes nothing; upload, change, backups, rollback', async () => {
    const L = lab!;
    const work = mkdtempSync(path.join(os.tmpdir(), 'bc-cli-upload-'));
    const root = path.join(L.nas.tftpRoot, `cli-${randomBytes(3).toString('hex')}`);
    mkdirSync(root);
    const known = path.join(work, 'known_hosts');
    const secrets = path.join(work, 'secrets.json');
    writeFileSync(secrets, JSON.stringify(SAMPLE_SECRETS));
    const write = (p: ReturnType<typeof sampleProject>) => {
      const f = path.join(work, 'project.json');
      writeFileSync(f, JSON.stringify(p));
      return f;
    };
    const project = sampleProject({ nas: { address: L.nas.ips[0]!, iscsiPort: 3260, tftpRoot: root, ssh: { host: L.ssh.host, port: 22, user: 'root' } } });
    const base = ['--project', write(project), '--secrets', secrets, '--key', L.ssh.root.key, '--known-hosts', known, '--no-tftp-check', '--build', path.join(work, 'no-build')];
    const env = { BOOTCHAIN_SSH_PASSPHRASE: L.ssh.root.passphrase, BOOTCHAIN_DATA_DIR: work };

    const hk = await cli(['hostkey', L.ssh.host, '--known-hosts', known, '--json']);
    expect(hk.code).toBe(0);
    const status = JSON.parse(hk.stdout) as { status: string; fingerprint: string };
    expect(status.status).toBe('unknown');

    const refused = await cli(['upload', ...base, '--dry-run'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`--trust ${status.fingerprint}`);

    const dry = await cli(['upload', ...base, '--dry-run', '--json', '--trust', status.fingerprint], env);
    expect(dry.code).toBe(0);
    const plan = JSON.parse(dry.stdout) as { dryRun: boolean; plan: { add: string[] } };
    expect(plan.dryRun).toBe(true);
    expect(plan.plan.add).toEqual(['52-54-00-12-34-56.ipxe', '52-54-00-ab-cd-ef.ipxe', 'autoexec.ipxe', 'default.ipxe']);
    expect(readdirSync(root)).toEqual([]);

    const up = await cli(['upload', ...base], env);
    expect(up.code).toBe(0);
    expect(up.stdout).toContain('+ default.ipxe');
    expect(up.stdout).toMatch(/verified by shell-sha256/);
    const first = readFileSync(path.join(root, '52-54-00-12-34-56.ipxe'), 'utf8');
    expect(first).toContain('ws1');

    // Reconfigure: ws1 boots another target. Only its script changes.
    const changed = sampleProject({ nas: project.nas });
    changed.workstations![0]!.target = 'iqn.2026-11.test.bootchain.lab:spare';
    const base2 = [...base];
    base2[1] = write(changed);
    const up2 = await cli(['upload', ...base2], env);
    expect(up2.code).toBe(0);
    expect(up2.stdout).toContain('~ 52-54-00-12-34-56.ipxe');
    expect(up2.stdout).toContain('= default.ipxe');
    expect(readFileSync(path.join(root, '52-54-00-12-34-56.ipxe'), 'utf8')).toContain('spare');

    const sets = JSON.parse((await cli(['backups', ...base2, '--json'], env)).stdout) as Array<{ replaced: string[] }>;
    expect(sets[0]!.replaced).toEqual(['52-54-00-12-34-56.ipxe']);
    const rb = await cli(['rollback', ...base2], env);
    expect(rb.code).toBe(0);
    expect(rb.stdout).toContain('restored 52-54-00-12-34-56.ipxe');
    expect(readFileSync(path.join(root, '52-54-00-12-34-56.ipxe'), 'utf8')).toBe(first);
  }, 120_000);
});
