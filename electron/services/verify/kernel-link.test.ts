import { describe, expect, it } from 'vitest';
import { SAMPLE_SECRETS, sampleProject } from '../../../shared/gen/fixtures';
import { loadProject } from '../../../shared/model/project';
import { hideCmdlineSecrets, identityCheck, kernelLink } from './kernel-link';
import { startWalk, type VerifyOptions } from './walk';

// The kernel link and the identity check need no network: each runs alone on a walk built here,
// with the links before them set by hand as the walk would have set them.
const project = () => {
  const r = loadProject(sampleProject());
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
};
const walkFor = (station: 'ws1' | 'ws2', o: Partial<VerifyOptions> = {}) => startWalk(project(), SAMPLE_SECRETS, station, { dhcp: false, dhcpWaitMs: 0, ...o });
const WS1_IQN = 'iqn.2026-11.test.bootchain:ws1-525400123456';
const stationPass = (iqn: string) => ['tftp://10.77.0.20/52-54-00-12-34-56.ipxe line 5: sanboot iscsi:10.77.0.20:::1:iqn.2026-11.test.bootchain.lab:ws1', `initiator-iqn ${iqn}`, 'CHAP user (none)'];

describe('kernel link alone', () => {
  it('the generated genkernel parameters pass and name the workstation\'s IQN', () => {
    const w = walkFor('ws1');
    expect(kernelLink(w)).toBe(true);
    expect(w.links.get('kernel')).toMatchObject({ status: 'pass', summary: `The genkernel parameters bring the network up and name ${WS1_IQN}` });
    expect(w.kernelIqn).toBe(WS1_IQN);
  });

  it("dracut's netroot carries CHAP: the evidence shows the users, never the secrets", () => {
    const lines: string[] = [];
    const w = walkFor('ws2', { log: (l) => lines.push(l) });
    kernelLink(w);
    const k = w.links.get('kernel')!;
    expect(k.status).toBe('pass');
    expect(k.evidence[0]).toContain('netroot=iscsi:ws2-user:***:nas:***@10.77.0.20');
    for (const s of Object.values(SAMPLE_SECRETS)) expect(JSON.stringify([k, lines])).not.toContain(s);
  });

  it('a given command line without ip=dhcp fails with that fix; a password the project does not know is hidden', () => {
    const w = walkFor('ws1', { kernelCmdline: `iscsi_initiatorname=${WS1_IQN} iscsi_target=iqn.x iscsi_address=10.77.0.20 iscsi_password=hunter22xx` });
    kernelLink(w);
    expect(w.links.get('kernel')).toMatchObject({ status: 'fail', summary: expect.stringMatching(/^no ip=dhcp/), fix: expect.stringMatching(/^Add ip=dhcp/) });
    expect(w.links.get('kernel')!.evidence[0]).toMatch(/^given \(genkernel\): .*iscsi_password=\*\*\*$/);
  });

  it('hides every form of secret on a command line', () => {
    expect(hideCmdlineSecrets('netroot=iscsi:u:s3cret@10.0.0.1::3260:1:iqn.x ip=dhcp')).toBe('netroot=iscsi:u:***@10.0.0.1::3260:1:iqn.x ip=dhcp');
    expect(hideCmdlineSecrets('netroot=iscsi:u:a:n:b@h:::1:t iscsi_password=x iscsi_in_password=y')).toBe('netroot=iscsi:u:***:n:***@h:::1:t iscsi_password=*** iscsi_in_password=***');
  });
});

describe('identity check alone', () => {
  it('before the per-MAC script is reached it is skipped, naming what it knows', () => {
    const w = walkFor('ws1');
    kernelLink(w);
    const id = identityCheck(w);
    expect(id).toMatchObject({ status: 'skip', summary: 'The per-MAC script was not reached' });
    expect(id.evidence).toEqual([`project: ${WS1_IQN}`, 'iPXE (per-MAC script): not reached', `kernel: ${WS1_IQN}`, 'NAS ACL: not checked', 'CHAP: none']);
  });

  it('one IQN in the project, the per-MAC script, the kernel and the NAS login passes', () => {
    const w = walkFor('ws1');
    w.set('station', 'pass', 'boots', stationPass(WS1_IQN));
    w.set('target', 'pass', 'logged in', []);
    kernelLink(w);
    expect(identityCheck(w)).toMatchObject({ status: 'pass', summary: `${WS1_IQN} in iPXE, the kernel parameters and the NAS login` });
  });

  it('a per-MAC script naming another IQN fails, whatever the NAS said', () => {
    const w = walkFor('ws1');
    w.set('station', 'pass', 'boots', stationPass('iqn.2026-11.test.bootchain:old-name'));
    kernelLink(w);
    const id = identityCheck(w);
    expect(id).toMatchObject({ status: 'fail', summary: 'The initiator IQN is not the same everywhere', fix: expect.stringContaining('all three must name the same IQN') });
    expect(id.evidence[1]).toBe('iPXE (per-MAC script): iqn.2026-11.test.bootchain:old-name');
  });

  it('a kernel command line naming the IQN in other letter case is the same initiator (RFC 3722 compares case-folded)', () => {
    // As typed from a NAS's ACL page in capitals (Synology shows host names as the user gave them).
    const upper = WS1_IQN.replace('ws1', 'WS1');
    const w = walkFor('ws1', { kernelCmdline: `iscsi_initiatorname=${upper} iscsi_target=iqn.2026-11.test.bootchain.lab:ws1 iscsi_address=10.77.0.20 ip=dhcp` });
    w.set('station', 'pass', 'boots', stationPass(WS1_IQN));
    w.set('target', 'pass', 'logged in', []);
    kernelLink(w);
    expect(identityCheck(w).status).toBe('pass');
    // Another name is still another initiator.
    const other = walkFor('ws1', { kernelCmdline: `iscsi_initiatorname=${WS1_IQN}x iscsi_target=iqn.x iscsi_address=10.77.0.20 ip=dhcp` });
    other.set('station', 'pass', 'boots', stationPass(WS1_IQN));
    kernelLink(other);
    expect(identityCheck(other).status).toBe('fail');
  });

  it('the same IQN everywhere but a refused login warns, pointing at the target link', () => {
    const w = walkFor('ws1');
    w.set('station', 'pass', 'boots', stationPass(WS1_IQN));
    w.set('target', 'fail', 'refused', []);
    w.kernelIqn = WS1_IQN;
    expect(identityCheck(w)).toMatchObject({ status: 'warn', summary: 'Same IQN in iPXE and kernel; the NAS did not accept the login (see Target)' });
    expect(identityCheck(w).evidence[3]).toBe('NAS ACL: refused or not reached');
  });
});
