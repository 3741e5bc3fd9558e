import { describe, expect, it } from 'vitest';
import { planScan, ScanStartInput } from './scan';

const plan = (targets: string[], extra: { confirmLarge?: boolean; confirmPublic?: boolean } = {}) =>
  planScan({ targets, ports: [3260], confirmLarge: extra.confirmLarge ?? false, confirmPublic: extra.confirmPublic ?? false });

describe('planScan', () => {
  it('counts addresses and probes', () => {
    const r = planScan({ targets: ['10.0.0.0/24', '10.0.1.5'], ports: [3260, 860], confirmLarge: false, confirmPublic: false });
    expect(r.ok && [r.value.addresses, r.value.probes]).toEqual([255, 510]);
  });
  it('refuses a malformed CIDR naming it', () => {
    const r = plan(['10.77.0.0/33']);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.code).toBe('INVALID_INPUT');
      expect(r.error.message).toContain('10.77.0.0/33');
      expect(r.error.field).toBe('targets');
    }
  });
  it('asks for confirmation above a /16 and accepts it when confirmed', () => {
    const r = plan(['10.0.0.0/8']);
    expect(!r.ok && r.error.code).toBe('NEEDS_CONFIRMATION');
    expect(!r.ok && r.error.field).toBe('confirmLarge');
    expect(plan(['10.0.0.0/16']).ok).toBe(true);
    expect(plan(['10.0.0.0/8'], { confirmLarge: true }).ok).toBe(true);
  });
  it('refuses more than a /8 even when confirmed', () => {
    const r = plan(['10.0.0.0/7'], { confirmLarge: true, confirmPublic: true });
    expect(!r.ok && r.error.code).toBe('INVALID_INPUT');
  });
  it('asks for confirmation outside private space', () => {
    const r = plan(['8.8.8.0/24']);
    expect(!r.ok && r.error.code).toBe('NEEDS_CONFIRMATION');
    expect(!r.ok && r.error.field).toBe('confirmPublic');
    expect(plan(['8.8.8.0/24'], { confirmPublic: true }).ok).toBe(true);
  });
  it('never scans multicast', () => {
    const r = plan(['224.0.0.0/24'], { confirmPublic: true });
    expect(!r.ok && r.error.message).toMatch(/multicast/);
  });
});

describe('ScanStartInput', () => {
  it('applies defaults', () => {
    const r = ScanStartInput.parse({ targets: ['10.0.0.1'] });
    expect(r).toMatchObject({ ports: [3260], timeoutMs: 1000, concurrency: 256, confirmIscsi: true, resolveNames: true });
  });
  it.each([[{ ports: [0] }], [{ ports: [70000] }], [{ concurrency: 0 }], [{ timeoutMs: 10 }], [{ extra: 1 }], [{ targets: [] }]])(
    'refuses %j',
    (patch) => expect(ScanStartInput.safeParse({ targets: ['10.0.0.1'], ...patch }).success).toBe(false),
  );
});
