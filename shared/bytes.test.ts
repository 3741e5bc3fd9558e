import { describe, expect, it } from 'vitest';
import { formatBytes } from './bytes';

// Sizes as the targets report them (READ CAPACITY blocks x block size): the lab's 16 MiB LUN, a
// QNAP thin LUN of 500 GiB, 4Kn disks, and the odd sizes a user's own image files have.
describe('formatBytes: one unit that fits, never "0.0 GiB"', () => {
  it.each([
    [16 * 1048576, '16 MiB'],
    [32768 * 512, '16 MiB'],
    [8 * 1048576, '8 MiB'],
    [1536 * 1048576, '1.5 GiB'],
    [500 * 2 ** 30, '500 GiB'],
    [122_070_000 * 4096, '465.7 GiB'],
    [2 * 2 ** 40, '2 TiB'],
    [512, '512 B'],
    [0, '0 B'],
    [1536, '1.5 KiB'],
    [70_846, '69.2 KiB'],
    [1024 * 1024 - 1, '1 MiB'],
    [2 ** 30 - 2 ** 16, '1023.9 MiB'],
    [2 ** 30 - 2 ** 10, '1 GiB'],
  ])('%d bytes read "%s"', (n, text) => expect(formatBytes(n)).toBe(text));
});
