import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { screenText } from '../vm/console';
import { decodeIpxeError, findIpxeErrors, IPXE_ERRFILES } from './ipxe-errors';

// Real QEMU consoles (electron/services/vm/fixtures/README.md): the error URLs iPXE printed there.
const consoleText = (name: string) => screenText(readFileSync(path.join(__dirname, '..', 'vm', 'fixtures', `${name}.console`), 'latin1'));
const IPXE_SRC = process.env.IPXE_SRC ?? '/tmp/ipxe-src';

describe('iPXE error numbers (src/include/errno.h)', () => {
  it('decodes the codes printed in the recorded consoles', () => {
    const dhcp = findIpxeErrors(consoleText('bios-dhcp-noanswer'));
    expect(dhcp.map((e) => e.code)).toEqual(['040ee119']);
    expect(dhcp[0]).toMatchObject({ page: '040ee1', url: 'https://ipxe.org/err/040ee1', posix: { value: 0x04, name: 'EADDRNOTAVAIL' }, file: { name: 'ifmgmt', class: 'other', arch: false }, uniq: 1, platform: 0x19, text: 'No configuration methods succeeded' });
    expect(dhcp[0]!.words).toBe('No configuration methods succeeded (EADDRNOTAVAIL) in configuring the network interface (ifmgmt.c)');

    const san = findIpxeErrors(consoleText('bios-nicrom-emptylun'));
    expect(san.map((e) => e.code)).toEqual(['1d852039']);
    // EIO from arch/x86 int13.c (ERRFILE_ARCH | ERRFILE_CORE | 0x50000), platform byte PXENV_STATUS 0x39.
    expect(san[0]).toMatchObject({ posix: { name: 'EIO', text: 'Input/output error' }, file: { name: 'int13', arch: true, class: 'core' }, uniq: 0, platform: 0x39, text: 'Input/output error' });
    expect(san[0]!.platformAs).toEqual({ bios: 'PXENV_STATUS_TFTP_CANNOT_READ_FROM_CONNECTION' });
    expect(dhcp[0]!.platformAs).toEqual({ bios: 'PXENV_STATUS_UDP_OPEN' });

    const loop = findIpxeErrors(consoleText('bios-stock-undionly-loop'));
    expect(loop.length).toBeGreaterThan(0);
    expect(new Set(loop.map((e) => `${e.posix.name} ${e.file.name}`))).toEqual(new Set(['ENETUNREACH netdevice']));
  });

  it('decodes the codes of ipxe.org\'s pages and the brief\'s example', () => {
    // https://ipxe.org/err/3c0920: "a URI using a protocol that is not supported" — ENOTSUP in core/open.c.
    expect(decodeIpxeError('3c0920')).toMatchObject({ code: '3c0920', posix: { name: 'ENOTSUP', text: 'Operation not supported' }, file: { name: 'open' } });
    expect('platform' in decodeIpxeError('3c0920')!).toBe(false);
    expect(decodeIpxeError('3c092003')?.platform).toBe(3);
    // 2c0d603b: ENODEV from net/tcp/iscsi.c.
    expect(decodeIpxeError('2c0d603b')).toMatchObject({ posix: { value: 0x2c, name: 'ENODEV', text: 'No such device' }, file: { name: 'iscsi', class: 'net' }, uniq: 0 });
    // FOG's forum, a UEFI tablet: "Could not boot: No such device (2c049087)" — ENODEV from
    // image/efi_image.c, the platform byte 0x87 an EFI error status (error bit -> 0x80).
    expect(decodeIpxeError('2c049087')).toMatchObject({ posix: { name: 'ENODEV' }, file: { name: 'efi_image', class: 'image' }, platform: 0x87, platformAs: { uefi: 'EFI_DEVICE_ERROR' } });
    const d = decodeIpxeError('2c7fe000')!; // a file outside the boot-path subset
    expect(d.file.name).toBeUndefined();
    expect(d.words).toBe('No such device (ENODEV) in iPXE other file 0x3ff');
  });

  it("names iSCSI's disambiguated errors: CHAP refused, initiator not allowed", () => {
    // EPERM | ERRFILE_iscsi | uniq 1 / 2, the platform byte as a BIOS build writes it (any).
    expect(decodeIpxeError(0x410d6101)?.text).toBe('Initiator authentication failed');
    expect(decodeIpxeError(-0x410d6201)?.text).toBe('Initiator not authorised');
    expect(decodeIpxeError('020d62')?.words).toBe('Incorrect target password (EACCES) in the iSCSI session (login, CHAP, target) (iscsi.c)');
    expect(decodeIpxeError('2d0c613b')?.text).toBe('Not found'); // HTTP 404 (httpcore.c)
  });

  it('refuses what is not an iPXE error number', () => {
    for (const bad of ['', 'xyz', '12345', '1234567', '123456789', '8c0d603b', 1.5]) expect(decodeIpxeError(bad)).toBeUndefined();
    expect(findIpxeErrors('see https://example.org/2c0d603b and ipxe.org/2c0d603b (no scheme)')).toEqual([]);
    expect(findIpxeErrors('(http://ipxe.org/2c0d603b) (https://ipxe.org/err/040ee1)').map((e) => e.code)).toEqual(['2c0d603b', '040ee1']);
  });

  it('its file table agrees with errfile.h', () => {
    const headers = [path.join(IPXE_SRC, 'src/include/ipxe/errfile.h'), path.join(IPXE_SRC, 'src/arch/x86/include/bits/errfile.h')];
    if (!headers.every(existsSync)) {
      console.log(`SKIP errfile.h check: no iPXE source tree at ${IPXE_SRC} (set IPXE_SRC)`);
      return;
    }
    const text = headers.map((h) => readFileSync(h, 'utf8')).join('\n');
    const cls: Record<string, number> = { CORE: 0x2000, DRIVER: 0x4000, NET: 0x6000, IMAGE: 0x8000, OTHER: 0xe000 };
    for (const [id, f] of Object.entries(IPXE_ERRFILES)) {
      const m = new RegExp(`#define ERRFILE_${f.name}\\s+\\(\\s*(ERRFILE_ARCH \\| )?ERRFILE_(\\w+) \\| (0x[0-9a-f]+) \\)`).exec(text);
      expect(m, f.name).not.toBeNull();
      expect((m![1] ? 0x800000 : 0) | cls[m![2]!]! | Number(m![3])).toBe(Number(id));
    }
    // The POSIX texts are errno.h's: spot-check the ones the consoles show.
    const errno = readFileSync(path.join(IPXE_SRC, 'src/include/errno.h'), 'utf8');
    for (const code of ['2c0d603b', '4c000000', '02000000', '3c000000', '1d000000']) {
      const e = decodeIpxeError(code)!;
      expect(errno).toMatch(new RegExp(`EINFO_${e.posix.name} __einfo \\( PLATFORM_${e.posix.name}, 0x${e.posix.value.toString(16).padStart(2, '0')}, 0, \\\\\\s+"${e.posix.text}"`));
    }
  });
});
