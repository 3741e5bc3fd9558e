/**
 * The file pickers of dialog:open in the Electron main process: dialog.showOpenDialog on the
 * window, one path back. Written over the two Electron pieces it needs (passed in), so it is
 * tested without the Electron binary.
 */
import path from 'node:path';
import type { BrowserWindow, Dialog, OpenDialogOptions } from 'electron';
import type { DialogOpenInput, DialogOpenResult } from '../../shared/dialog';

/** The dialog options for each kind of pick. */
export function dialogOptions(input: DialogOpenInput, home: string): OpenDialogOptions {
  const start = input.defaultPath && path.isAbsolute(input.defaultPath) ? input.defaultPath : undefined;
  switch (input.kind) {
    case 'key':
      return { title: 'Choose the SSH private key', defaultPath: start ?? path.join(home, '.ssh'), properties: ['openFile', 'showHiddenFiles', 'dontAddToRecent'] };
    case 'folder':
      return { title: 'Choose the iPXE source folder', defaultPath: start ?? home, properties: ['openDirectory', 'dontAddToRecent'] };
    case 'tarball':
      return { title: 'Choose the iPXE source archive', defaultPath: start ?? home, properties: ['openFile', 'dontAddToRecent'], filters: [{ name: 'Archives', extensions: ['gz', 'tgz', 'xz', 'bz2', 'tar', 'zip'] }] };
    case 'tftp-folder':
      return { title: 'Choose the folder your TFTP server serves', defaultPath: start ?? home, properties: ['openDirectory', 'createDirectory', 'dontAddToRecent'] };
    case 'image':
      return {
        title: 'Choose the OS disk image',
        defaultPath: start ?? home,
        properties: ['openFile', 'dontAddToRecent'],
        filters: [
          { name: 'Disk images', extensions: ['img', 'raw', 'iso', 'gz', 'xz', 'zst', 'qcow2', 'vmdk', 'vhdx', 'vdi', 'vhd'] },
          { name: 'All files', extensions: ['*'] },
        ],
      };
    case 'iso':
      return { title: 'Choose the installer ISO', defaultPath: start ?? home, properties: ['openFile', 'dontAddToRecent'], filters: [{ name: 'Installer images', extensions: ['iso'] }, { name: 'All files', extensions: ['*'] }] };
  }
}

/** The dialog:open handler over Electron's dialog and the app's window. */
export function openDialogWith(dialog: Pick<Dialog, 'showOpenDialog'>, window: () => BrowserWindow | undefined, home: string) {
  return async (input: DialogOpenInput): Promise<DialogOpenResult> => {
    const opts = dialogOptions(input, home);
    const w = window();
    const r = w ? await dialog.showOpenDialog(w, opts) : await dialog.showOpenDialog(opts);
    const chosen = r.filePaths[0];
    return r.canceled || !chosen ? { canceled: true } : { path: chosen };
  };
}
