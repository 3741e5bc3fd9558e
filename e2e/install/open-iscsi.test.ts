import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { sampleProject, SAMPLE_SECRETS } from '../../shared/gen/fixtures';
import { iscsiadmHelp, shellWord } from '../../shared/gen/open-iscsi';
import { Project } from '../../shared/model/project';

const p = Project.parse(sampleProject());
const ws2 = p.workstations.find((w) => w.chap?.mutual)!;

describe('open-iscsi help', () => {
  it('asks for the CHAP secrets instead of writing them, and logs in through its own iface', () => {
    const h = iscsiadmHelp(p, ws2);
    expect(h.script).not.toContain(SAMPLE_SECRETS['ws2.chap']!);
    expect(h.script).toContain('read -r CHAP_SECRET');
    expect(h.script).toContain('read -r CHAP_MUTUAL_SECRET');
    expect(h.steps.find((s) => s.argv.includes('--login'))!.argv).toEqual(['sudo', 'iscsiadm', '-m', 'node', '-T', ws2.target, '-p', `${p.nas.address}:${p.nas.iscsiPort}`, '-I', 'bootchain', '--login']);
    expect(h.script).not.toContain('initiatorname.iscsi');
  });

  it('a secret with shell characters reaches iscsiadm unchanged when filled in (checked by sh itself)', () => {
    const secret = `it's $HOME; \`x\` "y"`;
    const h = iscsiadmHelp(p, ws2, { [ws2.chap!.secretRef]: secret, [ws2.chap!.mutual!.secretRef]: 'other-secret-99' });
    const step = h.steps.find((s) => s.argv.includes('node.session.auth.password'))!;
    expect(step.argv.at(-1)).toBe(secret);
    // sh parses the pasted line: its last word must be the secret, byte for byte.
    const words = execFileSync('sh', ['-c', `set -- ${step.command}; for a; do last=$a; done; printf '%s' "$last"`]).toString();
    expect(words).toBe(secret);
    expect(shellWord('plain-1.2:3')).toBe('plain-1.2:3');
  });
});
