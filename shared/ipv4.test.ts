import { describe, expect, it } from 'vitest';
import { blockSize, forbiddenReason, formatIPv4, isPrivateBlock, parseBlock, parseIPv4, parsePorts, subnetBroadcast } from './ipv4';

describe('parseIPv4', () => {
  it.each([
    ['0.0.0.0', 0],
    ['10.77.0.20', 0x0a4d0014],
    ['255.255.255.255', 0xffffffff],
  ])('parses %s', (text, value) => {
    expect(parseIPv4(text)).toEqual({ ok: true, value });
    expect(formatIPv4(value)).toBe(text);
  });
  it.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.-1', '01.2.3.4', '1.2.3.4 ', 'a.b.c.d', '1..2.3', '0x10.1.1.1', '1.2.3.4\n'])(
    'refuses %j with a reason',
    (text) => {
      const r = parseIPv4(text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason.length).toBeGreaterThan(5);
    },
  );
});

describe('parseBlock', () => {
  it('drops network and broadcast of a /24', () => {
    const r = parseBlock('10.77.0.0/24');
    expect(r.ok && [formatIPv4(r.value.first), formatIPv4(r.value.last), blockSize(r.value)]).toEqual(['10.77.0.1', '10.77.0.254', 254]);
  });
  it('normalises host bits of a CIDR', () => {
    const r = parseBlock('192.168.1.77/24');
    expect(r.ok && r.value.label).toBe('192.168.1.0/24');
  });
  it('keeps both addresses of a /31 and the one of a /32', () => {
    const a = parseBlock('10.0.0.0/31');
    const b = parseBlock('10.0.0.9/32');
    expect(a.ok && blockSize(a.value)).toBe(2);
    expect(b.ok && blockSize(b.value)).toBe(1);
  });
  it('parses ranges and single addresses', () => {
    const r = parseBlock('10.0.0.5-10.0.0.20');
    expect(r.ok && blockSize(r.value)).toBe(16);
    const s = parseBlock(' 10.0.0.5 ');
    expect(s.ok && s.value.label).toBe('10.0.0.5');
  });
  it.each(['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/24/1', '10.0.0.0/x', '10.0.0.9-10.0.0.1', '10.0.0.1-', 'example.com', '10.0.0.0/-1'])(
    'refuses %j',
    (t) => expect(parseBlock(t).ok).toBe(false),
  );
  it('classifies private and forbidden ranges', () => {
    const get = (t: string) => {
      const r = parseBlock(t);
      if (!r.ok) throw new Error(r.reason);
      return r.value;
    };
    expect(isPrivateBlock(get('192.168.1.0/24'))).toBe(true);
    expect(isPrivateBlock(get('172.31.0.0/16'))).toBe(true);
    expect(isPrivateBlock(get('172.32.0.0/16'))).toBe(false);
    expect(isPrivateBlock(get('8.8.8.0/24'))).toBe(false);
    expect(forbiddenReason(get('224.0.0.1'))).toMatch(/multicast/);
    expect(forbiddenReason(get('255.255.255.255'))).toMatch(/reserved/);
    expect(forbiddenReason(get('10.0.0.0/8'))).toBeUndefined();
  });
});

describe('parsePorts', () => {
  it('parses lists and ranges, sorted and unique', () => {
    expect(parsePorts('3260, 860,3260-3262')).toEqual({ ok: true, value: [860, 3260, 3261, 3262] });
  });
  it.each([
    ['0', /out of range/],
    ['70000', /out of range|not a port/],
    ['65536', /out of range/],
    ['', /empty/],
    ['3260,', /empty/],
    ['abc', /not a port/],
    ['10-5', /ends before/],
    ['1-1000', /at most/],
  ])('refuses %j', (text, re) => {
    const r = parsePorts(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(re);
  });
});

describe('subnetBroadcast', () => {
  it.each([
    ['10.77.0.10', 24, '10.77.0.255'],
    ['192.168.1.130', 25, '192.168.1.255'],
    ['192.168.1.20', 25, '192.168.1.127'],
    ['172.16.5.4', 12, '172.31.255.255'],
    ['10.0.0.1', 32, '10.0.0.1'],
    ['10.0.0.1', 0, '255.255.255.255'],
  ])('%s/%i -> %s', (ip, prefix, want) => expect(subnetBroadcast(ip, prefix)).toBe(want));
});
