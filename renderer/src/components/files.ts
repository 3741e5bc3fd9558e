/** Small helpers the steps share for showing sizes and handing files to the user. */

/** A byte count for people: 512 B, 1.5 KiB, 3.0 MiB. */
export const formatBytes = (n: number): string => (n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / (1 << 20)).toFixed(1)} MiB`);

/** Offers text as a file download (the renderer writes nothing itself); "/" in names becomes "_". */
export function offerDownload(name: string, type: string, text: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name.replace(/\//g, '_');
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
