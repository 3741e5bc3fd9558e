import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { labOrSkipReason } from '../../../e2e/support/lab-guard';
import { tftpGet } from './client';

// Against the lab NAS's real tftpd-hpa.
const lab = labOrSkipReason('tftp client.int.test.ts');
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!lab)('TFTP client against tftpd-hpa', () => {
  it('fetches a small file with options and tsize', async () => {
    const r = await tftpGet(lab!.nas.ips[0]!, 'hello.txt');
    expect(r.data.toString()).toBe(readFileSync(path.join(lab!.nas.tftpRoot, 'hello.txt'), 'utf8'));
    expect(r.blksize).toBe(1432);
    expect(r.tsize).toBe(r.data.length);
  });

  it('fetches a 3 MiB file byte for byte at 512 and at 1432 bytes per block', async () => {
    const data = randomBytes(3 << 20);
    writeFileSync(path.join(lab!.nas.tftpRoot, 'big.bin'), data);
    for (const blksize of [0, 1432]) {
      const r = await tftpGet(lab!.nas.ips[0]!, 'big.bin', { blksize });
      expect(sha(r.data)).toBe(sha(data));
      expect(r.blksize).toBe(blksize === 0 ? 512 : 1432);
    }
  });

  it('a missing file is NOT_FOUND with the fix; an upper-case name is not the lower-case file', async () => {
    await expect(tftpGet(lab!.nas.ips[0]!, 'no-such-file.ipxe')).rejects.toMatchObject({ appError: { code: 'NOT_FOUND', hint: expect.stringMatching(/Upload no-such-file\.ipxe/) } });
    await expect(tftpGet(lab!.nas.ips[0]!, 'HELLO.TXT')).rejects.toMatchObject({ appError: { code: 'NOT_FOUND' } });
  });

  it('a host without a TFTP server times out with a clear error', async () => {
    await expect(tftpGet(lab!.nas.ips[1]!, 'hello.txt', { timeoutMs: 200, retries: 1 })).rejects.toMatchObject({ appError: { code: expect.stringMatching(/TIMEOUT|UNREACHABLE/) } });
  });
});
