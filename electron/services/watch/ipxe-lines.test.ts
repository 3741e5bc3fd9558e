import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { screenText } from '../vm/console';
import { IpxeSyslogConsole, syslogSend } from './fixtures/ipxe-syslog-model';
import { classifyIpxeLine, IPXE_LINE_MAX, IpxeLineJoiner, parseIpxeSyslog, utf8Valid, type IpxeJoinedLine } from './ipxe-lines';

const FROM = { address: '10.77.0.50', port: 1024 };
// The datagrams real iPXE v2.0.0 builds sent (fixtures/SYSLOG-FIXTURES.md), byte for byte: snponly.efi
// under OVMF and undionly.kpxe (built with CONSOLE_SYSLOG) under SeaBIOS, the same embedded script.
const capture = (name: string) =>
  readFileSync(path.join(__dirname, 'fixtures', `ipxe-2.0.0-${name}-syslog.ndjson`), 'utf8')
    .trim()
    .split('\n')
    .map((l) => Buffer.from((JSON.parse(l) as { b64: string }).b64, 'base64'));
const consoleText = (name: string) => screenText(readFileSync(path.join(__dirname, '..', 'vm', 'fixtures', `${name}.console`), 'latin1'));

/** Datagrams -> parsed -> joined lines, as the receiver does it. */
function receive(datagrams: Buffer[]): IpxeJoinedLine[] {
  const j = new IpxeLineJoiner();
  const out: IpxeJoinedLine[] = [];
  for (const d of datagrams) {
    const r = parseIpxeSyslog(d, FROM);
    if (!r.ok) throw new Error(`${r.reason}: ${d.toString('latin1')}`);
    out.push(...j.push(r.line, 0));
  }
  return out;
}

describe("parseIpxeSyslog: iPXE's syslog_send() format", () => {
  it('reads "<6>host.domain ipxe: text" and "<6>ipxe: text" (no hostname, no timestamp, no newline)', () => {
    // Built by syslogSend(), the model of net/udp/syslog.c's "<%d>%s%s%s%sipxe: %s%s".
    const r = parseIpxeSyslog(syslogSend(6, 'biosb', 'lab.example', Buffer.from('Registered SAN device 0x80')), FROM);
    expect(r).toEqual({ ok: true, line: expect.objectContaining({ pri: 6, facility: 0, severity: 6, severityName: 'info', hostname: 'biosb.lab.example', text: 'Registered SAN device 0x80', continues: false, from: FROM }) });
    const bare = parseIpxeSyslog(syslogSend(6, '', 'ignored', Buffer.from('Configuring (net0 52:54:00:b0:07:28)...... ok')), FROM);
    expect(bare.ok && bare.line.hostname).toBeUndefined();
    expect(bare.ok && bare.line.text).toBe('Configuring (net0 52:54:00:b0:07:28)...... ok');
    expect(syslogSend(6, '', 'x', Buffer.from('a')).toString()).toBe('<6>ipxe: a');
    // iPXE's own syslog() lines carry their severity (include/syslog.h ESC [ n p): <3> for errors.
    const c = new IpxeSyslogConsole('biosb').write('\x1b[3pDownload of "x.ipxe" failed: No such file or directory (https://ipxe.org/2d0c613b)\n\x1b[p');
    const e = parseIpxeSyslog(c.sent[0]!, FROM);
    expect(e.ok && [e.line.pri, e.line.severityName]).toEqual([3, 'err']);
    // syslogs.c's TCP terminator "\n" is taken off.
    const nl = parseIpxeSyslog(Buffer.from('<6>pc1 ipxe: hello\n'), FROM);
    expect(nl.ok && nl.line.text).toBe('hello');
  });

  it('strips nothing itself: iPXE already removed escapes, CR and backspaces (core/lineconsole.c)', () => {
    const c = new IpxeSyslogConsole('pc1').write('\x1b[0;1miPXE 2.0.0\x1b[0m -- Open Source Network Boot Firmware -- \x1b[0;36mhttps://ipxe.org\x1b[0m\r\n');
    c.write('Press Ctrl-B for the iPXE command line...' + '\b \b'.repeat(41) + 'net0: 52:54:00:b0:07:28 using 82540em on 0000:00:03.0 (open)\r\n');
    expect(receive(c.sent).map((l) => l.text)).toEqual(['iPXE 2.0.0 -- Open Source Network Boot Firmware -- https://ipxe.org', 'net0: 52:54:00:b0:07:28 using 82540em on 0000:00:03.0 (open)']);
  });

  it('joins a line iPXE cut at 127 bytes, also inside a UTF-8 character; 127 exactly ends with an empty datagram', () => {
    const long = `Bootchain: booting ${'w'.repeat(60)} from iscsi:10.77.0.20:::1:iqn.2026-11.test.bootchain.lab:${'é'.repeat(70)}`;
    const c = new IpxeSyslogConsole('pc1').write(long + '\n');
    expect(c.sent.length).toBe(3);
    const first = parseIpxeSyslog(c.sent[0]!, FROM);
    expect(first.ok && [first.line.raw.length, first.line.continues]).toEqual([IPXE_LINE_MAX, true]);
    const cut = c.sent.find((d) => (d.at(-1)! & 0xc0) === 0xc0 || (d.at(-1)! & 0xc0) === 0x80);
    expect(cut).toBeDefined(); // the cut falls inside an "é" (2 bytes) in one of the pieces
    expect(receive(c.sent)).toEqual([expect.objectContaining({ text: long, parts: 3, partial: false, hostname: 'pc1' })]);
    const exact = new IpxeSyslogConsole('pc1').write('x'.repeat(127) + '\n');
    expect(exact.sent.map((d) => d.length)).toEqual(['<6>pc1 ipxe: '.length + 127, '<6>pc1 ipxe: '.length]);
    expect(receive(exact.sent)).toEqual([expect.objectContaining({ text: 'x'.repeat(127), parts: 2 })]);
  });

  it('a piece whose rest never comes is handed on partial after the wait; the joiner is bounded', () => {
    const j = new IpxeLineJoiner({ maxPending: 2, maxParts: 3 });
    const piece = (host: string) => {
      const r = parseIpxeSyslog(syslogSend(6, host, '', Buffer.from('y'.repeat(127))), FROM);
      if (!r.ok) throw new Error(r.reason);
      return r.line;
    };
    expect(j.push(piece('a'), 0)).toEqual([]);
    expect(j.push(piece('b'), 0)).toEqual([]);
    expect(j.push(piece('c'), 0)).toEqual([expect.objectContaining({ hostname: 'a', partial: true, parts: 1 })]); // the oldest made room
    expect(j.waiting).toBe(2);
    expect(j.push(piece('b'), 1)).toEqual([]);
    expect(j.push(piece('b'), 2)).toEqual([expect.objectContaining({ hostname: 'b', partial: true, parts: 3 })]); // maxParts
    expect(j.flush(1000, 2000)).toEqual([]);
    expect(j.flush(2000, 2000)).toEqual([expect.objectContaining({ hostname: 'c', partial: true })]);
    expect(j.waiting).toBe(0);
  });

  it('refuses what iPXE never sends, with the reason', () => {
    const r = (b: Buffer | string) => {
      const x = parseIpxeSyslog(Buffer.isBuffer(b) ? b : Buffer.from(b, 'latin1'), FROM);
      return x.ok ? 'ok' : x.reason;
    };
    expect(r(Buffer.alloc(2049, 0x61))).toBe('too-large');
    expect(r('')).toBe('empty');
    expect(r('pc1 ipxe: no pri')).toBe('no-pri');
    expect(r('<192>ipxe: x')).toBe('bad-pri');
    expect(r('<06>ipxe: x')).toBe('bad-pri');
    expect(r('<1234>ipxe: x')).toBe('bad-pri');
    expect(r('<6>ipxe: a\x00b')).toBe('binary');
    expect(r('<6>ipxe: \x1b[31mred')).toBe('binary');
    expect(r(Buffer.concat([Buffer.from('<6>ipxe: '), Buffer.from([0xff, 0xfe, 0x41])]))).toBe('invalid-utf8');
    expect(r(Buffer.concat([Buffer.from('<6>ipxe: '), Buffer.from([0x41, 0xc3])]))).toBe('invalid-utf8'); // cut, but the piece is short: not iPXE's cut
    expect(r('<13>Dec  2 03:00:00 nas qlogd[12]: something')).toBe('not-ipxe');
    expect(r('<6>two words ipxe: x')).toBe('not-ipxe');
    expect(r('<6>pc1 ipxe: tab\tok')).toBe('ok');
  });

  it('utf8Valid: overlongs and surrogates are invalid; cuts only where allowed', () => {
    expect(utf8Valid(Buffer.from('héllo €𝄞'))).toBe(true);
    expect(utf8Valid(Buffer.from([0xc0, 0xaf]))).toBe(false); // overlong "/"
    expect(utf8Valid(Buffer.from([0xed, 0xa0, 0x80]))).toBe(false); // U+D800
    expect(utf8Valid(Buffer.from([0xe2, 0x82]))).toBe(false);
    expect(utf8Valid(Buffer.from([0x41, 0xe2, 0x82]), { openEnd: true })).toBe(true);
    expect(utf8Valid(Buffer.from([0x82, 0xac, 0x41]), { openStart: true })).toBe(true);
    expect(utf8Valid(Buffer.from([0x82, 0xac, 0x41]))).toBe(false);
  });
});

describe.each(['efi', 'bios'])('a real iPXE v2.0.0 (%s build, CONSOLE_SYSLOG) on the wire', (build) => {
  const captured = capture(build);
  const mac = build === 'efi' ? '52:54:00:68:79:01' : '52:54:00:68:79:02';
  it("sends what syslog_send() says: <6>, the hostname, no timestamp, no newline, 127-byte pieces, UTF-8 as bytes", () => {
    expect(captured.map((d) => d.subarray(0, 14).toString())).toEqual(Array(captured.length).fill('<6>hyvm ipxe: '));
    expect(captured.every((d) => d.at(-1) !== 0x0a)).toBe(true);
    const parsed = captured.map((d) => parseIpxeSyslog(d, FROM));
    expect(parsed.every((r) => r.ok)).toBe(true);
    expect(parsed.map((r) => r.ok && r.line.raw.length)).toContain(IPXE_LINE_MAX);
    const lines = receive(captured);
    expect(lines.map((l) => [l.text, l.parts])).toEqual([
      [`Bootchain: syslog check from ${mac}`, 1],
      ['Grüße, ein Zeichen: € — UTF-8 passes through as bytes', 1],
      ['A long line to be cut by the line console: 0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789 end', 2],
      // The platform byte is the build's: EFI_NOT_FOUND / EFI_ABORTED vs PXENV_STATUS_TFTP_FILE_NOT_FOUND / _CANNOT_READ_FROM_CONNECTION.
      [`tftp://10.0.2.2/missing.ipxe... Not found (https://ipxe.org/2d1261${build === 'efi' ? '8e' : '3b'})`, 1],
      [`http://10.0.2.2:8080/x.ipxe... Connection reset (https://ipxe.org/0f0a60${build === 'efi' ? '95' : '39'})`, 1],
      [`Could not open SAN device: Connection reset (https://ipxe.org/0f0a60${build === 'efi' ? '95' : '39'})`, 1],
      ['Bootchain: done', 1],
    ]);
    const k = lines.map((l) => classifyIpxeLine(l.text));
    expect(k.map((c) => [c.kind, c.ok, c.error])).toEqual([
      ['bootchain', undefined, undefined],
      ['other', undefined, undefined],
      ['other', undefined, undefined],
      ['fetch-failed', false, 'Not found'],
      ['fetch-failed', false, 'Connection reset'],
      ['san-open-failed', false, 'Connection reset'],
      ['bootchain', undefined, undefined],
    ]);
    expect(k[3]!.errors[0]?.words).toBe('Not found (ENOENT) in TFTP (tftp.c)');
    expect(k[5]!.errors[0]?.words).toBe('Connection reset (ECONNRESET) in TCP (tcp.c)');
    expect(k[3]!.errors[0]?.platformAs?.[build === 'efi' ? 'uefi' : 'bios']).toBe(build === 'efi' ? 'EFI_NOT_FOUND' : 'PXENV_STATUS_TFTP_FILE_NOT_FOUND');
    expect(k[5]!.errors[0]?.platformAs?.[build === 'efi' ? 'uefi' : 'bios']).toBe(build === 'efi' ? 'EFI_ABORTED' : 'PXENV_STATUS_TFTP_CANNOT_READ_FROM_CONNECTION');
  });

  it('the line-console model makes the same bytes from the same lines', () => {
    const m = new IpxeSyslogConsole('hyvm');
    for (const l of receive(captured)) m.write(`${l.text}\n`);
    expect(m.sent.map((d) => d.toString('base64'))).toEqual(captured.map((d) => d.toString('base64')));
  });
});

describe('a chainloaded BIOS iPXE given syslog (option 7) and its hostname (option 12) by dnsmasq', () => {
  it('sends from its banner on, whole lines, then under the hostname its script sets', () => {
    const lines = receive(capture('bios-dhcp-option7'));
    expect(lines.map((l) => [l.hostname, l.text])).toEqual([
      ['hyhost', ''],
      ['hyhost', ''],
      ['hyhost', ''],
      ['hyhost', 'iPXE 2.0.0 -- Open Source Network Boot Firmware -- https://ipxe.org'],
      ['hyhost', 'Features: DNS HTTP iSCSI TFTP AoE ELF MBOOT PXE bzImage Menu PXEXT'],
      ['hyhost', 'Configuring (net0 52:54:00:68:79:03)...... ok'],
      ['hyhost', 'Bootchain: after DHCP, syslog 10.9.0.1 hostname hyhost'],
      ['hyvm', 'Bootchain: done'],
    ]);
    expect(lines.map((l) => classifyIpxeLine(l.text).kind).filter((k) => k !== 'other')).toEqual(['banner', 'features', 'dhcp-ok', 'bootchain', 'bootchain']);
    expect(classifyIpxeLine(lines[3]!.text).subject).toBe('2.0.0');
  });
});

describe("classifyIpxeLine: the recorded consoles' lines", () => {
  /** Every line of a console through the line-console model and the parser, classified. */
  const watch = (name: string, host: string) => {
    const c = new IpxeSyslogConsole(host);
    for (const l of consoleText(name).split('\n')) c.write(`${l}\n`);
    return receive(c.sent).map((l) => ({ text: l.text, ...classifyIpxeLine(l.text) }));
  };
  const kinds = (rows: ReturnType<typeof watch>) => rows.map((r) => r.kind).filter((k) => k !== 'other');

  it('a healthy BIOS boot of the built iPXE: banner, DHCP, scripts, SAN registered and booting', () => {
    const rows = watch('bios-built-sanboot', 'biosb');
    const k = kinds(rows);
    const after = k.slice(k.lastIndexOf('banner'));
    expect(after).toEqual(['banner', 'features', 'bootchain', 'dhcp-ok', 'bootchain', 'fetch-ok', 'bootchain', 'fetch-ok', 'bootchain', 'san-registered', 'san-booting']);
    expect(rows.find((r) => r.kind === 'banner' && r.subject === '2.0.0')).toBeDefined();
    expect(rows.filter((r) => r.kind === 'fetch-ok').map((r) => r.subject)).toEqual(['tftp://10.0.2.2/undionly.kpxe', '/default.ipxe', '/52-54-00-b0-07-28.ipxe']);
    expect(rows.find((r) => r.kind === 'dhcp-ok')).toMatchObject({ stage: 'dhcp', ok: true, subject: '52:54:00:b0:07:28', netdev: 'net0' });
    expect(rows.find((r) => r.kind === 'image')).toMatchObject({ subject: 'undionly.kpxe', stage: 'fetch' });
    expect(rows.find((r) => r.kind === 'san-booting')).toMatchObject({ stage: 'boot', subject: '0x80' });
    expect(rows.filter((r) => r.ok === false)).toEqual([]);
  });

  it('UEFI: file:autoexec.ipxe and the SAN boot', () => {
    const k = kinds(watch('uefi-built-sanboot-exit', 'uefib'));
    expect(k).toContain('fetch-ok');
    expect(k.slice(-2)).toEqual(['san-registered', 'san-booting']);
  });

  it('no DHCP answer: dhcp-failed with the decoded error, then "No more network devices"', () => {
    const rows = watch('bios-dhcp-noanswer', 'pc');
    const f = rows.find((r) => r.kind === 'dhcp-failed')!;
    expect(f).toMatchObject({ stage: 'dhcp', ok: false, error: 'No configuration methods succeeded', subject: '52:54:00:b0:07:24' });
    expect(f.errors.map((e) => e.words)).toEqual(['No configuration methods succeeded (EADDRNOTAVAIL) in configuring the network interface (ifmgmt.c)']);
    expect(rows.find((r) => r.kind === 'no-more-netdevs')?.ok).toBe(false);
  });

  it('an empty LUN: "Boot from SAN device 0x80 failed: Input/output error" is the stop', () => {
    const rows = watch('bios-nicrom-emptylun', 'c6');
    const f = rows.find((r) => r.kind === 'san-boot-failed')!;
    expect(f).toMatchObject({ stage: 'boot', ok: false, error: 'Input/output error', subject: '0x80' });
    expect(f.errors[0]).toMatchObject({ code: '1d852039', file: { name: 'int13' } });
    expect(kinds(rows)).toContain('san-unregistered');
  });

  it('the stock undionly loop: TXE statistics are not a stop', () => {
    const rows = watch('bios-stock-undionly-loop', 'pc');
    expect(rows.filter((r) => r.kind === 'dhcp-ok').length).toBeGreaterThanOrEqual(3);
    expect(rows.filter((r) => r.ok === false)).toEqual([]);
  });
});

describe("classifyIpxeLine: iPXE's own messages (usr/autoboot.c, usr/imgmgmt.c, hci/commands/image_cmd.c)", () => {
  it('maps each failure to its stage with the error words', () => {
    const c = (t: string) => {
      const r = classifyIpxeLine(t);
      return [r.kind, r.stage, r.ok, r.error];
    };
    expect(c('Could not open SAN device: Permission denied (https://ipxe.org/0216eb3c)')).toEqual(['san-open-failed', 'san', false, 'Permission denied']);
    expect(c('Could not open SAN device: Operation not permitted (https://ipxe.org/410d6101)')).toEqual(['san-open-failed', 'san', false, 'Operation not permitted']);
    expect(classifyIpxeLine('Could not open SAN device: Operation not permitted (https://ipxe.org/410d6101)').errors[0]?.text).toBe('Initiator authentication failed');
    expect(c('Could not boot image: Exec format error (https://ipxe.org/2e008081)')).toEqual(['boot-failed', 'boot', false, 'Exec format error']);
    expect(c('Could not boot: No such device (https://ipxe.org/2c049087)')).toEqual(['boot-failed', 'boot', false, 'No such device']);
    expect(c('http://10.77.0.1/52-54-00-12-34-56.ipxe... Connection timed out (https://ipxe.org/4c0a6035)')).toEqual(['fetch-failed', 'fetch', false, 'Connection timed out']);
    expect(c('tftp://10.77.0.1/undionly.kpxe... ok')).toEqual(['fetch-ok', 'fetch', true, undefined]);
    expect(c('http://10.77.0.1/default.ipxe...')).toEqual(['fetch-start', 'fetch', undefined, undefined]);
    expect(c('Could not configure net0: Operation not supported (https://ipxe.org/3c086083)')).toEqual(['command-failed', 'dhcp', false, 'Operation not supported']);
    expect(c('Could not fetch image: No such file or directory (https://ipxe.org/2d0c613b)')).toEqual(['command-failed', 'fetch', false, 'No such file or directory']);
    expect(c('Nothing to boot: No such file or directory (https://ipxe.org/2d03e13b)')).toEqual(['nothing-to-boot', 'boot', false, 'No such file or directory']);
    expect(c('Configuring [dhcp] (net0 52:54:00:12:34:56)...')).toEqual(['dhcp-start', 'dhcp', undefined, undefined]);
    expect(c('Booting from SAN device 0x80')).toEqual(['san-booting', 'boot', undefined, undefined]);
    expect(c('Downloaded "default.ipxe"')).toEqual(['log', 'fetch', true, undefined]);
    expect(c('Download of "x.ipxe" failed: No such file or directory (https://ipxe.org/2d0c613b)')).toEqual(['log', 'fetch', false, 'No such file or directory']);
    expect(c('ok')).toEqual(['tail-ok', undefined, undefined, undefined]);
    expect(c('Bootchain: SAN boot failed (the error is above).')).toEqual(['bootchain', undefined, undefined, undefined]);
    expect(c('Press Ctrl-B for the iPXE command line...')).toEqual(['other', undefined, undefined, undefined]);
  });
});
