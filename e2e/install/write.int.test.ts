import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, readSync, closeSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHandlers, dispatch } from '../../electron/services/api/handlers';
import { JobRunner } from '../../electron/services/jobs/runner';
import { vmBootJob } from '../../electron/services/vm/job';
import { findOvmf } from '../../electron/services/vm/qemu';
import type { AppError } from '../../shared/errors';
import { sampleProject } from '../../shared/gen/fixtures';
import type { InspectResult, WriteResult } from '../../shared/install';
import type { JobEvent } from '../../shared/jobs';
import { generateChapSecret } from '../../shared/model/chap';
import { loadProject, type ProjectInput } from '../../shared/model/project';
import { BOOT_MARKER, missingUefiTools, UEFI_BOOT_MARKER, writeBootSectorDisk, writeUefiBootDisk } from '../lab/disk-images';
import { ISTGT, startIstgt, type Istgt, type LabHost } from '../lab/istgt';
import { addLabHost } from '../lab/lab';
import { addTgtTarget, labTgtadm, startHostTgtd, type HostTgtd } from '../lab/tgtd-host';
import { labOrSkipReason } from '../support/lab-guard';
import { haveQemu } from '../support/qemu';

// The Install step's write, end to end through the contract's handlers and the job runner:
// disk images the test makes (a BIOS boot sector that prints a marker; a GPT disk whose ESP holds
// a standalone GRUB as \EFI\BOOT\BOOTX64.EFI), compressed by the real gzip, xz and zstd and
// converted by qemu-img, are written onto LUNs of the lab's tgtd and of an istgt (LUN 0, CRC32C
// digests, CHAP), compared byte for byte with the LUN's backing file, and SAN-booted in QEMU.
const pexec = promisify(execFile);
const lab = labOrSkipReason('write.int.test.ts');
const tools = ['gzip', 'xz', 'zstd', 'qemu-img'].filter((t) => !['/usr/bin', '/bin'].some((d) => existsSync(`${d}/${t}`)));
const why = !lab ? 'no lab' : tools.length ? `${tools.join(', ')} missing (Debian: gzip xz-utils zstd qemu-utils)` : undefined;
if (lab && why) process.stdout.write(`SKIP write.int.test.ts: ${why}\n`);
const uefiWhy = missingUefiTools().length ? `UEFI disk needs ${missingUefiTools().join(', ')}` : !findOvmf() ? 'OVMF missing' : undefined;
const bootWhy = !haveQemu() ? 'qemu-system-x86 missing' : undefined;
if (lab && !why && (uefiWhy || bootWhy)) process.stdout.write(`SKIP write.int.test.ts parts: ${[uefiWhy, bootWhy].filter(Boolean).join('; ')}\n`);

const MiB = 1 << 20;
const USER = 'wr-user';
const TIDS = { bios: 130, uefi: 131, small: 132, thin: 133, k4: 134 } as const;
const VAN_IP = '10.77.0.81';
const IST_IP = '10.77.0.82';

interface Ended {
  events: JobEvent[];
  end: JobEvent;
}

describe.skipIf(!!why)('install:write onto tgtd and istgt LUNs', () => {
  const L = lab!;
  const dir = path.join(L?.dir ?? '/tmp', 'write-test');
  const secret = generateChapSecret();
  const base = `${L?.iscsi.targets.mbr.split(':')[0]}:wr`;
  const lunFile = (n: string) => path.join(dir, `lun-${n}.img`);
  const tgtadm = labTgtadm(L?.nas.tgtControlPorts[0] ?? 0);
  const runner = new JobRunner();
  const handlers = createHandlers(runner, 'harness', { dataDir: path.join(dir, 'data') });
  const caller = { id: 'write-test' };
  const events: JobEvent[] = [];
  runner.onEvent((e) => events.push(e), { owner: caller.id });
  let ist: Istgt | undefined;
  let istFw: 'bios' | 'uefi' = 'bios';
  let istHost: LabHost | undefined;
  let vanHost: LabHost | undefined;
  let vanTgtd: HostTgtd | undefined;
  const images: Record<string, string> = {};

  const station = (name: string, firmware: 'bios' | 'uefi', target: string, over: Record<string, unknown> = {}) => ({
    name,
    mac: `52:54:00:b0:19:${['wsb', 'wsu', 'wss', 'wsi', 'wsv', 'other', 'wsj', 'wst', 'ws4'].indexOf(name).toString(16).padStart(2, '0')}`,
    firmware,
    target,
    lun: 1,
    initiatorIqn: `iqn.2026-12.test.bootchain:${name}`,
    chap: { username: USER, secretRef: 'wr.chap' },
    initramfs: 'genkernel',
    ...over,
  });
  const project = (workstations: Array<Record<string, unknown>>): ProjectInput => sampleProject({ name: 'writetest', nas: { address: L.nas.ips[0]!, iscsiPort: 3260, tftpRoot: '/srv/tftp' }, workstations } as Partial<ProjectInput>);
  const P = () =>
    project([
      station('wsb', 'bios', `${base}-bios`),
      station('wsu', 'uefi', `${base}-uefi`),
      station('wss', 'bios', `${base}-small`),
      station('wst', 'bios', `${base}-thin`),
      station('ws4', 'bios', `${base}-4k`),
      // istgt's one LUN is first the BIOS disk (wsi), then the UEFI one (wsj): never both in one project (a shared disk is refused).
      ...(ist ? [station(istFw === 'bios' ? 'wsi' : 'wsj', istFw, ist.iqn, { lun: 0, portals: [{ address: IST_IP, port: 3260 }], chap: { username: 'ist-user', secretRef: 'wr.ist' } })] : []),
      ...(vanTgtd ? [station('wsv', 'bios', `${base}-van`, { portals: [{ address: VAN_IP, port: 3260 }], chap: undefined })] : []),
    ]);
  const SECRETS = () => ({ 'wr.chap': secret, 'wr.ist': 'ist-secret-2468' });

  /** Starts a job through the contract and waits for its end; `during` runs on each progress event. */
  async function job(channel: 'install:write' | 'install:inspect', input: Record<string, unknown>, during?: (e: JobEvent, jobId: string) => void): Promise<Ended> {
    const r = (await dispatch(handlers, channel, { project: P(), secrets: SECRETS(), ...input }, caller)) as { ok: boolean; value?: { jobId: string }; error?: AppError };
    if (!r.ok) throw Object.assign(new Error(r.error!.message), { appError: r.error });
    const jobId = r.value!.jobId;
    let seen = 0;
    for (const t0 = Date.now(); ; ) {
      const mine = events.filter((e) => e.jobId === jobId);
      for (const e of mine.slice(seen)) during?.(e, jobId);
      seen = mine.length;
      const end = mine.find((e) => ['succeeded', 'failed', 'cancelled'].includes(e.type));
      if (end) return { events: mine, end };
      if (Date.now() - t0 > 240_000) throw new Error(`${channel} did not end`);
      await new Promise((res) => setTimeout(res, 10));
    }
  }
  const write = async (stationName: string, image: string, over: Record<string, unknown> = {}) => {
    const r = await job('install:write', { station: stationName, image, overwrite: true, ...over });
    if (r.end.type !== 'succeeded') throw new Error(`write ${image}: ${JSON.stringify(r.end)}`);
    return (r.end as { result: WriteResult }).result;
  };
  const failure = async (p: Promise<Ended>): Promise<AppError | undefined> => {
    try {
      const r = await p;
      return r.end.type === 'failed' ? (r.end as { error: AppError }).error : undefined;
    } catch (e) {
      return (e as { appError?: AppError }).appError;
    }
  };
  const lunHead = (file: string, bytes: number) => {
    const b = Buffer.alloc(bytes);
    const fd = openSync(file, 'r');
    readSync(fd, b, 0, bytes, 0);
    closeSync(fd);
    return b;
  };
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

  /** raw + .gz + .xz + .zst + .qcow2 of one disk, made by the real tools. */
  const variants = async (name: string, raw: string) => {
    images[`${name}.raw`] = raw;
    await pexec('sh', ['-c', `gzip -c "$1" > "$1.gz" && xz -T2 -c "$1" > "$1.xz" && zstd -q -c "$1" > "$1.zst"`, 'sh', raw]);
    await pexec('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, `${raw}.qcow2`]);
    for (const x of ['gz', 'xz', 'zst', 'qcow2']) images[`${name}.${x}`] = `${raw}.${x}`;
  };

  beforeAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await tgtadm(['--op', 'new', '--mode', 'account', '--user', USER, '--password', secret]);
    await addTgtTarget(tgtadm, TIDS.bios, `${base}-bios`, lunFile('bios'), 40, { user: USER });
    await addTgtTarget(tgtadm, TIDS.uefi, `${base}-uefi`, lunFile('uefi'), 64, { user: USER });
    await addTgtTarget(tgtadm, TIDS.small, `${base}-small`, lunFile('small'), 8, { user: USER });
    await addTgtTarget(tgtadm, TIDS.thin, `${base}-thin`, lunFile('thin'), 40, { user: USER, lunParams: 'thin_provisioning=1' });
    await addTgtTarget(tgtadm, TIDS.k4, `${base}-4k`, lunFile('4k'), 40, { user: USER, blockSize: 4096 });
    // The BIOS disk: the lab's boot sector, and 3 MiB of random data among zero runs.
    const bios = path.join(dir, 'bios.img');
    writeBootSectorDisk(bios, 24 * MiB);
    const fd = openSync(bios, 'r+');
    writeSync(fd, randomBytes(3 * MiB), 0, 3 * MiB, 5 * MiB + 512);
    closeSync(fd);
    await variants('bios', bios);
    if (!uefiWhy) {
      const uefi = path.join(dir, 'uefi.img');
      writeUefiBootDisk(uefi, 48 * MiB);
      await variants('uefi', uefi);
    }
    if (existsSync(ISTGT)) {
      istHost = await addLabHost(L, 'wrist', [IST_IP]);
      ist = await startIstgt(istHost, { ip: IST_IP, dir: path.join(dir, 'istgt'), sizeMiB: 64, name: 'wrdisk', chap: { username: 'ist-user', secret: 'ist-secret-2468' }, digest: 'Auto' });
    }
  }, 180_000);

  afterAll(async () => {
    if (!L) return;
    await vanTgtd?.stop().catch(() => undefined);
    await vanHost?.remove().catch(() => undefined);
    await istHost?.remove().catch(() => undefined);
    for (const tid of Object.values(TIDS)) await tgtadm(['--op', 'delete', '--mode', 'target', '--tid', String(tid), '--force']).catch(() => undefined);
    await tgtadm(['--op', 'delete', '--mode', 'account', '--user', USER]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const bootIt = async (name: string, marker: string) => {
    const p = loadProject(P());
    if (!p.ok) throw new Error(JSON.stringify(p.errors));
    const boot = await vmBootJob(
      { project: p.value, secrets: SECRETS(), station: name, network: { kind: 'user' }, timeoutMs: 150_000, until: new RegExp(marker) },
      { signal: new AbortController().signal, log: () => undefined, progress: () => undefined, item: () => undefined },
    );
    process.stdout.write(`VM test boot of ${name}: ${boot.ended} after ${boot.durationMs} ms; stages ${boot.stages.map((s) => s.id).join(' ')}\n`);
    if (boot.ended !== 'marker') process.stdout.write(`${boot.failure ? `stopped: ${boot.failure.line}\n` : ''}${boot.console.slice(-1500)}\n`);
    expect(boot.ended).toBe('marker');
  };

  it('inspect: the empty LUN and the image before anything is written; a non-empty disk needs the confirm', { timeout: 120_000 }, async () => {
    const r = await job('install:inspect', { station: 'wsb', image: images['bios.xz'] });
    expect(r.end.type).toBe('succeeded');
    const i = (r.end as { result: InspectResult }).result;
    expect(i.lun).toMatchObject({ target: `${base}-bios`, lun: 1, blockSize: 512, sizeBytes: 40 * MiB, layout: { verdict: 'empty' } });
    expect(i.image).toMatchObject({ format: 'xz', size: 24 * MiB });
    expect(i.needsConfirm).toBe(false);
    expect(i.refusals).toEqual([]);
    const small = (await job('install:inspect', { station: 'wss', image: images['bios.raw'] })).end as { result: InspectResult };
    expect(small.result.refusals[0]).toMatch(/larger than the disk's 8 MiB/);
  });

  it.each(['raw', 'gz', 'xz', 'zst', 'qcow2'])('BIOS image as .%s onto tgtd: verified, equal to the LUN file, boot code found', { timeout: 120_000 }, async (fmt) => {
    const raw = readFileSync(images['bios.raw']!);
    const r = await write('wsb', images[`bios.${fmt}`]!);
    process.stdout.write(`bios .${fmt}: ${r.image.format} ${r.imageBytes} bytes in ${r.durationMs} ms (${r.mibPerSec.toFixed(1)} MiB/s), verify ${r.verify?.ok} in ${r.verify?.durationMs} ms, sparse: ${r.sparse.why}\n`);
    expect(r.imageBytes).toBe(raw.length);
    expect(r.sha256).toBe(sha(raw));
    expect(r.verify).toMatchObject({ ok: true, sha256: sha(raw) });
    expect(lunHead(lunFile('bios'), raw.length).equals(raw)).toBe(true);
    expect(r.findings.at(-1)).toMatchObject({ status: 'pass', summary: expect.stringMatching(/BIOS can start it/) });
    expect(r.ok).toBe(true);
  });

  it.skipIf(!!bootWhy)('the written BIOS LUN SAN-boots in QEMU to its marker', { timeout: 200_000 }, async () => {
    await bootIt('wsb', BOOT_MARKER);
  });

  it.skipIf(!!uefiWhy).each(['raw', 'gz', 'xz', 'zst', 'qcow2'])('UEFI image as .%s onto tgtd: verified, equal, \\EFI\\BOOT\\BOOTX64.EFI found on the ESP', { timeout: 120_000 }, async (fmt) => {
    const raw = readFileSync(images['uefi.raw']!);
    const r = await write('wsu', images[`uefi.${fmt}`]!);
    expect(r.verify?.ok).toBe(true);
    expect(lunHead(lunFile('uefi'), raw.length).equals(raw)).toBe(true);
    expect(r.findings.at(-1)!.summary).toMatch(/holds \\EFI\\BOOT\\BOOTX64\.EFI/);
    expect(r.ok).toBe(true);
  });

  it.skipIf(!!uefiWhy || !!bootWhy)('the written UEFI LUN SAN-boots in QEMU (OVMF) to its marker', { timeout: 200_000 }, async () => {
    await bootIt('wsu', UEFI_BOOT_MARKER);
  });

  const FORMATS = ['raw', 'gz', 'xz', 'zst', 'qcow2'];
  it.skipIf(!existsSync(ISTGT)).each(FORMATS)('istgt LUN 0 (CHAP, CRC32C digests chosen by our initiator): the BIOS image as .%s, verified, equal to its file', { timeout: 120_000 }, async (fmt) => {
    istFw = 'bios';
    const raw = readFileSync(images['bios.raw']!);
    const r = await write('wsi', images[`bios.${fmt}`]!);
    expect(r.lun).toMatchObject({ target: ist!.iqn, lun: 0 });
    expect(r.verify?.ok).toBe(true);
    expect(lunHead(ist!.image, raw.length).equals(raw)).toBe(true);
    expect(r.ok).toBe(true);
    const log = events.filter((e) => e.type === 'log').map((e) => (e as { line: string }).line).join('\n');
    expect(log).toMatch(/CRC32C digests/);
  });

  it.skipIf(!existsSync(ISTGT) || !!bootWhy)('the istgt LUN SAN-boots (BIOS) to its marker (iPXE has no digests: istgt lets it go without)', { timeout: 200_000 }, async () => {
    istFw = 'bios';
    await bootIt('wsi', BOOT_MARKER);
  });

  it.skipIf(!existsSync(ISTGT) || !!uefiWhy).each(FORMATS)('istgt LUN 0: the UEFI image as .%s, verified, the loader found', { timeout: 120_000 }, async (fmt) => {
    istFw = 'uefi';
    const raw = readFileSync(images['uefi.raw']!);
    const r = await write('wsj', images[`uefi.${fmt}`]!);
    expect(r.verify?.ok).toBe(true);
    expect(lunHead(ist!.image, raw.length).equals(raw)).toBe(true);
    expect(r.findings.at(-1)!.summary).toMatch(/holds \\EFI\\BOOT\\BOOTX64\.EFI/);
  });

  it.skipIf(!existsSync(ISTGT) || !!uefiWhy || !!bootWhy)('the istgt LUN SAN-boots (UEFI, OVMF) to its marker', { timeout: 200_000 }, async () => {
    istFw = 'uefi';
    await bootIt('wsj', UEFI_BOOT_MARKER);
  });

  it('the CLI: bootchain write --yes --json writes and prints the result; without --yes and no terminal it refuses a non-empty disk', { timeout: 120_000 }, async () => {
    const file = path.join(dir, 'cli-project.json');
    writeFileSync(file, JSON.stringify(P()));
    const secrets = path.join(dir, 'cli-secrets.json');
    writeFileSync(secrets, JSON.stringify(SECRETS()), { mode: 0o600 });
    const cli = path.resolve(import.meta.dirname, '../../out/main/cli.js');
    const env = { ...process.env, BOOTCHAIN_DATA_DIR: path.join(dir, 'cli-data') };
    const refused = await pexec(process.execPath, [cli, 'write', '--project', file, '--secrets', secrets, '--station', 'wsb', images['bios.zst']!], { env }).then(
      () => undefined,
      (e: { code: number; stderr: string }) => e,
    );
    expect(refused?.code).not.toBe(0);
    expect(refused?.stderr).toMatch(/is not empty .*Run again with --yes/s);
    const { stdout } = await pexec(process.execPath, [cli, 'write', '--project', file, '--secrets', secrets, '--station', 'wsb', images['bios.zst']!, '--yes', '--json'], { env, maxBuffer: 1 << 22 });
    const r = JSON.parse(stdout) as WriteResult;
    expect(r).toMatchObject({ ok: true, image: { format: 'zstd' }, verify: { ok: true } });
    expect(stdout).not.toContain(secret);
  });

  it('a thin LUN (tgt thin_provisioning=1, LBPRZ): unmapped first, zero runs skipped, still read back equal; --no-sparse writes them', { timeout: 120_000 }, async () => {
    const raw = readFileSync(images['bios.raw']!);
    // Old data where the image has zeros: only the UNMAP can make those read as zeros again.
    const fd = openSync(lunFile('thin'), 'r+');
    writeSync(fd, Buffer.alloc(raw.length, 0xa5), 0, raw.length, 0);
    closeSync(fd);
    const r = await write('wst', images['bios.xz']!);
    process.stdout.write(`thin: ${r.sparse.why}; ${r.bytesWritten} bytes sent, ${r.bytesSkipped} skipped\n`);
    expect(r.sparse.used).toBe(true);
    expect(r.bytesSkipped).toBeGreaterThan(16 * MiB);
    expect(r.bytesWritten + r.bytesSkipped).toBe(raw.length);
    expect(r.verify?.ok).toBe(true);
    expect(lunHead(lunFile('thin'), raw.length).equals(raw)).toBe(true);
    const all = await write('wst', images['bios.raw']!, { sparse: 'never' });
    expect(all).toMatchObject({ bytesSkipped: 0, bytesWritten: raw.length, sparse: { used: false } });
  });

  it('a LUN of 4096-byte blocks (tgt --blocksize=4096): the image goes on in its blocks, the tail padded, read back equal', { timeout: 120_000 }, async () => {
    // An image whose length is not a multiple of 4096: its last block is padded with zeros.
    const odd = path.join(dir, 'odd.img');
    writeFileSync(odd, Buffer.concat([readFileSync(images['bios.raw']!).subarray(0, 10 * MiB), randomBytes(1536)]));
    const r = await write('ws4', odd);
    expect(r.lun).toMatchObject({ blockSize: 4096, blocks: (40 * MiB) / 4096 });
    expect(r.imageBytes).toBe(10 * MiB + 1536);
    expect(r.verify?.ok).toBe(true);
    const back = lunHead(lunFile('4k'), 10 * MiB + 4096);
    expect(back.subarray(0, 10 * MiB + 1536).equals(readFileSync(odd))).toBe(true);
    expect(back.subarray(10 * MiB + 1536).every((b) => b === 0)).toBe(true);
    expect(r.findings.at(-1)).toMatchObject({ status: 'pass' });
  });

  it('refusals: a disk that is not empty without the confirm; an image larger than the LUN; a shared LUN; another disk than confirmed; a wrong CHAP secret', { timeout: 120_000 }, async () => {
    const before = sha(readFileSync(lunFile('bios')));
    const confirm = await failure(job('install:write', { station: 'wsb', image: images['bios.raw'] }));
    expect(confirm).toMatchObject({ code: 'NEEDS_CONFIRMATION', message: expect.stringMatching(/is not empty \(boot sector/) });
    expect(sha(readFileSync(lunFile('bios')))).toBe(before);

    const large = await failure(job('install:write', { station: 'wss', image: images['bios.raw'] }));
    expect(large).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/larger than the disk/), hint: 'Nothing was written.' });
    expect(readFileSync(lunFile('small')).every((b) => b === 0)).toBe(true);
    // gzip does not say its size up front: the write stops at the disk's end, saying so.
    const streamed = await failure(job('install:write', { station: 'wss', image: images['bios.gz'] }));
    expect(streamed).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/larger than the disk \(8 MiB\): stopped at 8 MiB, nothing beyond the disk was written/) });

    const shared = project([station('wsb', 'bios', `${base}-bios`), station('other', 'bios', `${base}-bios`)]);
    const r1 = (await dispatch(handlers, 'install:write', { project: shared, secrets: SECRETS(), station: 'wsb', image: images['bios.raw'], overwrite: true }, caller)) as { ok: boolean; error?: AppError };
    expect(r1).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT', message: expect.stringMatching(/also the disk of workstation other/) } });
    const r2 = await failure(job('install:write', { station: 'wsb', image: images['bios.raw'], overwrite: true, expect: { target: `${base}-uefi`, lun: 1 } }));
    expect(r2).toMatchObject({ code: 'INVALID_INPUT', message: expect.stringMatching(/^Refused: the project gives wsb target .*-bios LUN 1, not .*-uefi LUN 1/) });

    const wrong = generateChapSecret();
    const w = await dispatch(handlers, 'install:write', { project: P(), secrets: { ...SECRETS(), 'wr.chap': wrong }, station: 'wsb', image: images['bios.raw'], overwrite: true }, caller);
    const jobId = (w as { value: { jobId: string } }).value.jobId;
    for (let i = 0; i < 500 && !events.some((e) => e.jobId === jobId && e.type === 'failed'); i++) await new Promise((res) => setTimeout(res, 20));
    const mine = events.filter((e) => e.jobId === jobId);
    expect(mine.at(-1)).toMatchObject({ type: 'failed', error: { code: 'AUTH_FAILED' } });
    expect(JSON.stringify(mine)).not.toContain(wrong);
    expect(sha(readFileSync(lunFile('bios')))).toBe(before);
  });

  /** An HTTP server that streams `file` slowly (so a cancel or a vanishing target lands mid-write). */
  const slowServer = async (file: string, bytesPerTick: number) => {
    const data = readFileSync(file);
    const srv = http.createServer((_q, res) => {
      res.writeHead(200, { 'content-length': String(data.length), 'content-type': 'application/octet-stream' });
      let off = 0;
      const t = setInterval(() => {
        if (off >= data.length) return void (clearInterval(t), res.end());
        res.write(data.subarray(off, off + bytesPerTick));
        off += bytesPerTick;
      }, 50);
      res.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/disk.img`, close: () => new Promise<void>((r) => srv.close(() => r())) };
  };

  it('cancel mid-write from an http:// URL: ends cancelled, saying how far it got', { timeout: 120_000 }, async () => {
    const big = path.join(dir, 'big.img');
    writeFileSync(big, randomBytes(32 * MiB));
    const srv = await slowServer(big, 512 * 1024);
    try {
      let asked = 0;
      const r = await job('install:write', { station: 'wsb', image: srv.url, overwrite: true }, (e, jobId) => {
        if (!asked && e.type === 'progress' && (e.progress.done ?? 0) >= 4 * MiB) {
          asked = Date.now();
          void dispatch(handlers, 'jobs:cancel', { jobId }, caller);
        }
      });
      const ms = Date.now() - asked;
      const last = r.events.filter((e) => e.type === 'log').at(-1) as { line: string } | undefined;
      process.stdout.write(`cancel: ended ${r.end.type} ${ms} ms after the cancel; "${last?.line}"\n`);
      expect(r.end.type).toBe('cancelled');
      expect(last?.line).toMatch(/^cancelled: \d+(\.\d)? MiB of 32 MiB had been written; the disk holds a partial image/);
    } finally {
      await srv.close();
    }
  });

  it('the target vanishing mid-write: UNREACHABLE, and how far it got', { timeout: 120_000 }, async () => {
    vanHost = await addLabHost(L, 'wrvan', [VAN_IP]);
    vanTgtd = await startHostTgtd(vanHost, VAN_IP);
    await vanTgtd.addTarget(1, `${base}-van`, path.join(dir, 'van.img'), 48);
    const big = path.join(dir, 'big.img');
    const srv = await slowServer(big, 512 * 1024);
    try {
      let stopped = false;
      const r = await job('install:write', { station: 'wsv', image: srv.url, overwrite: true }, (e) => {
        if (!stopped && e.type === 'progress' && (e.progress.done ?? 0) >= 4 * MiB) {
          stopped = true;
          void vanHost!.remove();
        }
      });
      const err = (r.end as { error?: AppError }).error;
      process.stdout.write(`target gone: ${err?.code}: ${err?.message}\n`);
      expect(r.end.type).toBe('failed');
      expect(['UNREACHABLE', 'TIMEOUT']).toContain(err?.code);
      expect(err?.message).toMatch(/ — \d+(\.\d)? MiB of 32 MiB had been written$/);
      expect(err?.hint).toMatch(/partial image/);
    } finally {
      await srv.close();
      vanHost = undefined;
      vanTgtd = undefined;
    }
  });
});
