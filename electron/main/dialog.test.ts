import { describe, expect, it } from 'vitest';
import type { OpenDialogOptions } from 'electron';
import { dialogOptions, openDialogWith } from './dialog';

// The main process's file pickers over a stand-in for Electron's dialog (no binary needed).
describe('dialog:open in the main process', () => {
  const calls: OpenDialogOptions[] = [];
  const fake = (answer: { canceled: boolean; filePaths: string[] }) => ({
    showOpenDialog: async (...args: unknown[]) => {
      calls.push(args[args.length - 1] as OpenDialogOptions);
      return answer;
    },
  });

  it('a key opens a file dialog in ~/.ssh and returns the chosen path', async () => {
    const open = openDialogWith(fake({ canceled: false, filePaths: ['/home/me/.ssh/id_ed25519'] }) as never, () => undefined, '/home/me');
    expect(await open({ kind: 'key' })).toEqual({ path: '/home/me/.ssh/id_ed25519' });
    expect(calls.at(-1)).toMatchObject({ defaultPath: '/home/me/.ssh', properties: expect.arrayContaining(['openFile']) });
  });

  it('a folder opens a directory dialog at the field value; cancelling says so', async () => {
    const open = openDialogWith(fake({ canceled: true, filePaths: [] }) as never, () => undefined, '/home/me');
    expect(await open({ kind: 'folder', defaultPath: '/src/ipxe' })).toEqual({ canceled: true });
    expect(calls.at(-1)).toMatchObject({ defaultPath: '/src/ipxe', properties: expect.arrayContaining(['openDirectory']) });
  });

  it('a relative start is ignored', () => {
    expect(dialogOptions({ kind: 'tarball', defaultPath: 'x/../y' }, '/h').defaultPath).toBe('/h');
  });
});
