/** Small helpers the steps share for showing sizes and handing files to the user. */

/** A byte count for people (512 B, 1.5 KiB, 16 MiB, 1.5 GiB): the one formatter, shared with the services and CLI. */
export { formatBytes } from '../../../shared/bytes';

/** Offers text as a file download (the renderer writes nothing itself); "/" in names becomes "_". */
export function offerDownload(name: string, type: string, text: string): void {
  const a = document.createElement('a');
  a.href = URL.createObjectURL(new Blob([text], { type }));
  a.download = name.replace(/\//g, '_');
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
