/**
 * A stand-in for the `electron` module, for tests (`vi.mock('electron', () => import(...))`): no
 * Electron binary can run here. It records what the real module would be asked to do — the
 * window's options, the IPC handlers main installs — and plays both ends of the IPC as Electron
 * would: the preload's `ipcRenderer.invoke` reaches main's `ipcMain.handle` handler with the
 * window's page as sender, and `webContents.send` reaches that page's `ipcRenderer.on`
 * listeners. Everything that crosses is structured-cloned, as Electron does. Never bundled.
 */
import { EventEmitter } from 'node:events';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

type Handler = (event: unknown, ...args: unknown[]) => Promise<unknown>;
type RendererListener = (event: unknown, ...args: unknown[]) => void;

/** A window's page: main's side (send, events) and the renderer's (its ipcRenderer listeners). */
export class WebContentsStandIn extends EventEmitter {
  static nextId = 1;
  readonly id = WebContentsStandIn.nextId++;
  readonly mainFrame = { url: '' };
  openHandler: unknown;
  /** Every message main sent this page, in order. */
  readonly sent: Array<{ channel: string; args: unknown[] }> = [];
  readonly rendererListeners = new Map<string, Set<RendererListener>>();
  private destroyed = false;
  setWindowOpenHandler(h: unknown): void {
    this.openHandler = h;
  }
  send(channel: string, ...args: unknown[]): void {
    if (this.destroyed) throw new Error('Object has been destroyed');
    const copy = structuredClone(args);
    this.sent.push({ channel, args: copy });
    for (const fn of this.rendererListeners.get(channel) ?? []) fn({ sender: this }, ...structuredClone(copy));
  }
  isDestroyed(): boolean {
    return this.destroyed;
  }
  /** The page goes away (window closed, renderer crashed). */
  destroy(): void {
    this.destroyed = true;
    this.emit('destroyed');
  }
}

/**
 * What the stand-in was asked to do, for the test to look at and drive. One record per test file
 * (kept on globalThis): a test that re-imports main after `vi.resetModules()` gets a fresh
 * stand-in module writing to the same record.
 */
const fresh = () => ({
  windows: [] as Array<{ opts: { webPreferences: Record<string, unknown> }; wc: WebContentsStandIn; url?: string }>,
  handles: new Map<string, Handler>(),
  permission: undefined as undefined | ((wc: unknown, perm: string, cb: (ok: boolean) => void) => void),
  permissionCheck: undefined as undefined | (() => boolean),
  headers: undefined as undefined | ((d: { responseHeaders: Record<string, string[]> }, cb: (r: { responseHeaders: Record<string, string[]> }) => void) => void),
  opened: [] as string[],
  appEvents: new Map<string, (...a: unknown[]) => void>(),
  singleLock: true,
  quit: 0,
  packaged: false,
  /** What the preload exposed with contextBridge (window.api). */
  exposed: {} as Record<string, unknown>,
  /** The page the preload runs in (default: the first window's). */
  page: undefined as WebContentsStandIn | undefined,
});
const g = globalThis as { bootchainElectronStandIn?: ReturnType<typeof fresh> };
export const rec = (g.bootchainElectronStandIn ??= fresh());

const userData = mkdtempSync(path.join(os.tmpdir(), 'bc-standin-'));
const page = (): WebContentsStandIn => {
  const p = rec.page ?? rec.windows[0]?.wc;
  if (!p) throw new Error('no window: main has not opened one');
  return p;
};

export class BrowserWindow {
  webContents: WebContentsStandIn;
  constructor(opts: { webPreferences: Record<string, unknown> }) {
    this.webContents = new WebContentsStandIn();
    rec.windows.push({ opts, wc: this.webContents });
  }
  once(): void {}
  loadURL(url: string): Promise<void> {
    const w = rec.windows.find((x) => x.wc === this.webContents)!;
    w.url = url;
    this.webContents.mainFrame.url = url;
    return Promise.resolve();
  }
  isDestroyed(): boolean {
    return this.webContents.isDestroyed();
  }
}

export const app = {
  getPath: () => userData,
  get isPackaged() {
    return rec.packaged;
  },
  requestSingleInstanceLock: () => rec.singleLock,
  quit: () => rec.quit++,
  on: (ev: string, fn: (...a: unknown[]) => void) => rec.appEvents.set(ev, fn),
  whenReady: () => Promise.resolve(),
};

export const ipcMain = { handle: (ch: string, fn: Handler) => rec.handles.set(ch, fn) };

export const session = {
  defaultSession: {
    setPermissionRequestHandler: (fn: typeof rec.permission) => (rec.permission = fn),
    setPermissionCheckHandler: (fn: typeof rec.permissionCheck) => (rec.permissionCheck = fn),
    webRequest: { onHeadersReceived: (fn: typeof rec.headers) => (rec.headers = fn) },
  },
};

/** The file pickers: a stand-in dialog that is always cancelled (dialog.test.ts tests the handler itself). */
export const dialog = { showOpenDialog: async () => ({ canceled: true, filePaths: [] as string[] }) };
export const shell = { openExternal: (u: string) => (rec.opened.push(u), Promise.resolve()) };

export const safeStorage = { isEncryptionAvailable: () => false, encryptString: () => Buffer.alloc(0), decryptString: () => '', getSelectedStorageBackend: () => 'basic_text' };

/** The preload's side: calls go to main's handler with this page (its main frame) as sender. */
export const ipcRenderer = {
  invoke: async (channel: string, ...args: unknown[]): Promise<unknown> => {
    const handler = rec.handles.get(channel);
    if (!handler) throw new Error(`No handler registered for '${channel}'`);
    const wc = page();
    return structuredClone(await handler({ sender: wc, senderFrame: wc.mainFrame }, ...structuredClone(args)));
  },
  on: (channel: string, fn: RendererListener) => {
    const wc = page();
    let set = wc.rendererListeners.get(channel);
    if (!set) wc.rendererListeners.set(channel, (set = new Set()));
    set.add(fn);
  },
  removeListener: (channel: string, fn: RendererListener) => void page().rendererListeners.get(channel)?.delete(fn),
};

export const contextBridge = { exposeInMainWorld: (key: string, value: unknown) => (rec.exposed[key] = value) };
