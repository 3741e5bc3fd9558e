import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { embedScript } from '../../../shared/gen/ipxe';
import { sampleProject } from '../../../shared/gen/fixtures';
import { loadProject } from '../../../shared/model/project';
import { readConsole, screenText, type ConsoleContext } from './console';

// Real QEMU serial consoles, byte for byte (escape codes, backspaces, SeaBIOS's 80-column
// wraps): recorded by e2e/boot/capture-console.ts in the lab (see fixtures/README.md).
const fixture = (name: string) => readFileSync(path.join(__dirname, 'fixtures', `${name}.console`), 'latin1');
const DEBIAN = '1.0.0+git-20190125.36a4c85-5.1';
const known: ConsoleContext['known'] = { nicRom: DEBIAN, debian: DEBIAN };
const p = loadProject(sampleProject());
if (!p.ok) throw new Error('sample project');
const embedEcho = embedScript(p.value)
  .split('\n')
  .find((l) => l.startsWith('echo '))!
  .slice(5);
const ids = (r: ReturnType<typeof readConsole>) => r.stages.map((s) => s.id);
const line = (r: ReturnType<typeof readConsole>, id: string) => r.stages.find((s) => s.id === id)?.line;

describe('VM console: the text shown', () => {
  it('has no escape codes, backspaces or carriage returns, and SeaBIOS\'s 80-column wraps are joined', () => {
    for (const name of ['bios-nicrom-sanboot', 'bios-dhcp-noanswer', 'uefi-nicrom-sanboot-exit', 'uefi-snponly-sanboot-exit', 'bios-stock-undionly-loop']) {
      const raw = fixture(name);
      expect(raw).toMatch(/\x1b\[/); // the recordings do carry escape codes
      const screen = screenText(raw);
      expect(screen).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
      expect(screen).toContain('-- Open Source Network Boot Firmware -- http://ipxe.org');
      // The countdown is erased with backspaces, as a terminal shows it.
      expect(screen).not.toContain('Press Ctrl-B for the iPXE command line...');
    }
    expect(screenText(fixture('bios-nicrom-sanboot'))).toContain('Bootchain: booting c1 from iscsi:10.77.0.20:::1:iqn.2026-11.test.bootchain.lab:boot-marker\n');
    expect(screenText(fixture('bios-dhcp-noanswer'))).toContain('No configuration methods succeeded (http://ipxe.org/040ee119)');
    // OVMF's "clear screen, cursor home, set mode" codes (ESC [ = 3 h) leave nothing behind.
    expect(screenText(fixture('uefi-nicrom-sanboot-exit')).split('\n')[0]).toMatch(/^BdsDxe: failed to load Boot0001/);
  });
});

describe('VM console: stages from evidence', () => {
  it('BIOS, QEMU\'s NIC ROM: every stage from its own line, the marker is "booted"', () => {
    const r = readConsole(fixture('bios-nicrom-sanboot'), { marker: /BOOTCHAIN-LUN-BOOTED/, known });
    expect(ids(r)).toEqual(['firmware', 'ipxe', 'dhcp', 'script', 'sanboot', 'booted']);
    expect(r.stages.every((s) => s.line !== '(implied)')).toBe(true);
    expect(line(r, 'dhcp')).toBe('Configuring (net0 52:54:00:b0:07:21)...... ok');
    expect(line(r, 'script')).toBe('tftp://10.0.2.2/default.ipxe... ok');
    expect(line(r, 'sanboot')).toBe('Registered SAN device 0x80');
    expect(line(r, 'booted')).toBe('BOOTCHAIN-LUN-BOOTED');
    expect(r.failure).toBeUndefined();
  });

  it('"Configuring (net0 …)" with no "ok" is no DHCP answer: the run stops at DHCP, and says why', () => {
    const r = readConsole(fixture('bios-dhcp-noanswer'), { known });
    expect(ids(r)).toEqual(['firmware', 'ipxe']);
    expect(r.failure?.stage).toBe('dhcp');
    expect(r.failure?.line).toBe('Configuring (net0 52:54:00:b0:07:24).................. No configuration methods succeeded (http://ipxe.org/040ee119)');
  });

  it('a DHCP still running when the console ends is not an answer either', () => {
    const raw = fixture('bios-dhcp-noanswer');
    const cut = raw.slice(0, raw.indexOf('No configuration methods'));
    const r = readConsole(cut, { known });
    expect(ids(r)).toEqual(['firmware', 'ipxe']);
  });

  it('UEFI, QEMU exits right after the marker: "booted", from the whole console', () => {
    const r = readConsole(fixture('uefi-nicrom-sanboot-exit'), { marker: /BOOTCHAIN-UEFI-BOOTED/, known });
    expect(ids(r)).toEqual(['firmware', 'ipxe', 'dhcp', 'script', 'sanboot', 'booted']);
    expect(line(r, 'booted')).toBe('BOOTCHAIN-UEFI-BOOTED');
  });

  it('UEFI without a known marker (the app\'s run): the disk\'s first output after "Booting from SAN device" is "booted"', () => {
    const r = readConsole(fixture('uefi-nicrom-sanboot-exit'), { known });
    expect(ids(r)).toEqual(['firmware', 'ipxe', 'dhcp', 'script', 'sanboot', 'booted']);
    expect(line(r, 'booted')).toBe('Welcome to GRUB!');
  });

  it('a SAN boot the console shows stopping before the disk\'s output is not "booted"', () => {
    const raw = fixture('uefi-nicrom-sanboot-exit');
    const r = readConsole(raw.slice(0, raw.indexOf('Booting from SAN device')), { known });
    expect(ids(r)).toEqual(['firmware', 'ipxe', 'dhcp', 'script', 'sanboot']);
  });

  it('a SAN boot of an empty LUN: iPXE\'s error and "Unregistered SAN device" are not the disk\'s output', () => {
    const r = readConsole(fixture('bios-nicrom-emptylun'), { known });
    expect(ids(r)).toEqual(['firmware', 'ipxe', 'dhcp', 'script', 'sanboot']);
    expect(r.failure).toEqual({ stage: 'booted', line: 'Boot from SAN device 0x80 failed: Input/output error (http://ipxe.org/1d852039)' });
  });

  it('UEFI, OVMF\'s own PXE: the firmware\'s DHCP answer, then Debian\'s snponly.efi', () => {
    const r = readConsole(fixture('uefi-snponly-sanboot-exit'), { marker: /BOOTCHAIN-UEFI-BOOTED/, known });
    expect(ids(r)).toEqual(['firmware', 'ipxe', 'dhcp', 'script', 'sanboot', 'booted']);
    expect(line(r, 'dhcp')).toBe('Station IP address is 10.77.0.178');
    expect(line(r, 'firmware')).toMatch(/^BdsDxe: /);
  });

  it('the DHCP loop: the same iPXE loaded again and again is named, and no script stage is ticked', () => {
    const r = readConsole(fixture('bios-stock-undionly-loop'), { known });
    expect(ids(r)).toEqual(['firmware', 'ipxe', 'dhcp']);
    expect(r.failure?.stage).toBe('script');
    expect(r.failure?.line).toMatch(/^undionly\.kpxe : \d+ bytes \[PXE-NBP\]$/);
    expect(r.failure?.why).toMatch(/undionly\.kpxe was loaded \d+ times: the DHCP loop/);
  });
});

describe('VM console: which iPXE ran', () => {
  it('QEMU\'s NIC ROM (the first iPXE, nothing loaded before it)', () => {
    const r = readConsole(fixture('bios-nicrom-sanboot'), { known, embedEcho });
    expect(r.ipxe.map((x) => [x.kind, x.version])).toEqual([['nic-rom', DEBIAN]]);
    expect(r.ipxe[0]!.what).toMatch(/NIC/);
    expect(readConsole(fixture('uefi-nicrom-sanboot-exit'), { known }).ipxe.map((x) => x.kind)).toEqual(['nic-rom']);
  });

  it('a stock iPXE loaded by the firmware: Debian\'s snponly.efi, by its version', () => {
    const r = readConsole(fixture('uefi-snponly-sanboot-exit'), { known, embedEcho });
    expect(r.ipxe.map((x) => [x.kind, x.version, x.file])).toEqual([['stock', DEBIAN, 'snponly.efi']]);
    expect(r.ipxe[0]!.what).toMatch(/Debian/);
  });

  it('the NIC ROM, then Debian\'s undionly.kpxe over and over (stock: no embedded script ran)', () => {
    const r = readConsole(fixture('bios-stock-undionly-loop'), { known, embedEcho });
    expect(r.ipxe[0]!.kind).toBe('nic-rom');
    expect(r.ipxe.length).toBeGreaterThan(2);
    expect(r.ipxe.slice(1).every((x) => x.kind === 'stock' && x.file === 'undionly.kpxe')).toBe(true);
  });
});

describe('VM console: Bootchain\'s build (a real build of iPXE v2.0.0)', () => {
  // The builds' manifests: what the dry run served, and what the build wrote down.
  const BUILT = { 'undionly.kpxe': '488063bd9e3783b4891fc457391ae74bf9bd1d1c2d6b8d03e39f327df39e446e', 'snponly.efi': '1b6daec4c5c796345e89d47e5fd4f9cf868242a5fac3c6e547093fd1acb8455f' };
  const SERIAL = { 'undionly.kpxe': 'd4f93d3ea6690569ac80e1a46b06a9108e4d26d60b29453800ea12d0f8d40a91', 'snponly.efi': '3c79a1464cf5aa518ddc74953fa3b49c3a96048f1465d446f2ef46ba19f37c6a' };
  const manifest = (m: Record<string, string>) => Object.entries(m).map(([file, sha256]) => ({ file, sha256 }));
  const dryRun = (m: Record<string, string>): ConsoleContext => ({ known: { ...known, built: '2.0.0' }, embedEcho, served: m, manifest: manifest(m) });

  it('BIOS: the NIC ROM, then the built undionly.kpxe, recognised by the sha256 the dry run served and by its script', () => {
    const r = readConsole(fixture('bios-built-sanboot'), { ...dryRun(BUILT), marker: /BOOTCHAIN-LUN-BOOTED/ });
    expect(ids(r)).toEqual(['firmware', 'ipxe', 'dhcp', 'script', 'sanboot', 'booted']);
    expect(r.ipxe.map((x) => [x.kind, x.version, x.file, x.sha256])).toEqual([
      ['nic-rom', DEBIAN, undefined, undefined],
      ['built', '2.0.0', 'undionly.kpxe', BUILT['undionly.kpxe']],
    ]);
    expect(r.ipxe[1]!.what).toMatch(/in the build manifest/);
  });

  it('UEFI: the built snponly.efi; on a tap (nothing served by the test boot) its script and version still name it', () => {
    const r = readConsole(fixture('uefi-built-sanboot-exit'), dryRun(BUILT));
    expect(r.ipxe.map((x) => [x.kind, x.file])).toEqual([
      ['nic-rom', undefined],
      ['built', 'snponly.efi'],
    ]);
    expect(ids(r)).toEqual(['firmware', 'ipxe', 'dhcp', 'script', 'sanboot', 'booted']);
    // It ran the served autoexec.ipxe (same lines as the embedded script): the version decides.
    const tap = readConsole(fixture('uefi-built-sanboot-exit'), { known: { ...known, built: '2.0.0' }, embedEcho });
    expect(tap.ipxe.map((x) => x.kind)).toEqual(['nic-rom', 'built']);
    const other = readConsole(fixture('uefi-built-sanboot-exit'), { known: { ...known, built: '2.1.0' }, embedEcho });
    expect(other.ipxe[1]!.kind).toBe('stock');
    expect(other.ipxe[1]!.what).toMatch(/autoexec\.ipxe/);
  });

  it('a boot file whose sha256 is not in the manifest is not called the build', () => {
    const r = readConsole(fixture('bios-built-sanboot'), { known, embedEcho: undefined, served: BUILT, manifest: manifest(SERIAL) });
    expect(r.ipxe[1]!.kind).toBe('stock');
  });

  it('built with the serial console: OVMF\'s doubled characters are made single, every stage read, the cause named', () => {
    const raw = fixture('uefi-built-serial-sanboot-exit');
    expect(raw).toContain('BBoooottcchhaaiinn::  aasskkiinngg');
    const r = readConsole(raw, dryRun(SERIAL));
    expect(r.screen.split('\n').filter((l) => l === 'Bootchain: asking DHCP for an address...')).toHaveLength(1);
    expect(ids(r)).toEqual(['firmware', 'ipxe', 'dhcp', 'script', 'sanboot', 'booted']);
    expect(r.ipxe.map((x) => [x.kind, x.version])).toEqual([
      ['nic-rom', DEBIAN],
      ['built', '2.0.0'],
    ]);
    expect(r.ipxe[1]!.what).toMatch(/serial console/);
  });

  it('built with the serial console under SeaBIOS (interleaved, out of step): the build is still named, the marker still found, nothing ticked without its line', () => {
    const r = readConsole(fixture('bios-built-serial-sanboot'), { ...dryRun(SERIAL), marker: /BOOTCHAIN-LUN-BOOTED/ });
    expect(r.ipxe.map((x) => [x.kind, x.file])).toEqual([
      ['nic-rom', undefined],
      ['built', 'undionly.kpxe'],
    ]);
    expect(r.ipxe[1]!.what).toMatch(/serial console/);
    expect(r.stages.at(-1)).toEqual({ id: 'booted', line: 'BOOTCHAIN-LUN-BOOTED' });
    for (const st of r.stages) expect(st.line === '(implied)' || r.screen.includes(st.line) || st.id === 'booted').toBe(true);
  });
});
