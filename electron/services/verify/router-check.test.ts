import { describe, expect, it } from 'vitest';
import { SAMPLE_SECRETS, sampleProject } from '../../../shared/gen/fixtures';
import { loadProject } from '../../../shared/model/project';
import { VerifyInput } from '../../../shared/verify';
import { verifyStation } from './verify';

// "Check my router" (verify:start with only: 'dhcp') walks the DHCP side alone. Against a live
// router it is e2e/specs/router.spec.ts (red as the lab stands, green with the snippet applied);
// here, with DHCP not probed, nothing leaves this computer.
describe("verify's router check (only: 'dhcp')", () => {
  it('judges only the DHCP links and marks every other link "router check only"; nothing else is reached', async () => {
    const p = loadProject(sampleProject());
    if (!p.ok) throw new Error('sample project invalid');
    const r = await verifyStation(p.value, SAMPLE_SECRETS, 'ws1', { dhcp: false, dhcpWaitMs: 200, only: 'dhcp' });
    const by = Object.fromEntries(r.links.map((l) => [l.id, l]));
    expect(by.dhcp!.status).toBe('skip');
    expect(by.dhcp!.summary).toMatch(/not probed/);
    expect(by.embedded!.status).toBe('skip');
    for (const id of ['bootfile', 'default', 'station', 'portal', 'target', 'bootsector', 'kernel']) expect(by[id]!.summary, id).toMatch(/router check only/);
  });

  it('the channel takes only "dhcp" as only', () => {
    const base = { project: sampleProject(), station: 'ws1' };
    expect(VerifyInput.safeParse({ ...base, only: 'dhcp' }).success).toBe(true);
    expect(VerifyInput.safeParse({ ...base, only: 'tftp' }).success).toBe(false);
    expect(VerifyInput.parse(base).only).toBeUndefined();
  });
});
