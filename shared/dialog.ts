import { z } from 'zod';

/**
 * The file pickers: 'key' an SSH private key file, 'folder' a folder (the iPXE source tree),
 * 'tarball' an iPXE source archive, 'image' an OS disk image, 'iso' an installer ISO, 'tftp-folder' the folder
 * a TFTP server serves (Upload's export into a folder). Electron's main process answers with its own dialog; a
 * front end without one (the browser harness, the CLI) answers `unsupported` with what to do.
 */
export const DialogOpenInput = z
  .object({
    kind: z.enum(['key', 'folder', 'tarball', 'image', 'iso', 'tftp-folder']),
    /** Where the dialog starts (the field's current value), when it is an absolute path. */
    defaultPath: z.string().max(4096).optional(),
  })
  .strict();
export type DialogOpenInput = z.input<typeof DialogOpenInput>;

/** The path chosen, or why there is none (cancelled, or no dialog here). */
export type DialogOpenResult = { path: string } | { canceled: true } | { unsupported: string };

/** What a front end without a file dialog says. */
export const NO_DIALOG = (where: string) => `Type the path: ${where} has no file dialog.`;
