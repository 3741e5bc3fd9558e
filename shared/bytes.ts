/** Byte counts for people, in one formatter for every environment (renderer, CLI, services). */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'] as const;

/**
 * A byte count in the largest binary unit it fills, with at most one decimal: 512 B, 1.5 KiB,
 * 16 MiB, 465.7 GiB (a 16 MiB LUN never reads "0.0 GiB").
 */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 1024) return `${n} B`;
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  let text = v.toFixed(1);
  // 1023.96 KiB rounds to "1024.0": that is 1 MiB.
  if (Number(text) >= 1024 && i < UNITS.length - 1) {
    i++;
    text = (v / 1024).toFixed(1);
  }
  return `${text.replace(/\.0$/, '')} ${UNITS[i]}`;
}
