import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, dialog, ipcMain, safeStorage, session, shell, type WebContents } from 'electron';
import { openDialogWith } from './dialog';
import { CHANNELS, JOB_EVENT_CHANNEL } from '../../shared/channels';
import { appError } from '../../shared/errors';
import { err } from '../../shared/result';
import { createHandlers, dispatch, type Caller } from '../services/api/handlers';
import { JobRunner } from '../services/jobs/runner';
import { safeStorageCipher } from './secret-cipher';
import { defaultGrantHelper } from '../services/privileges/privileges';
import { CSP, isAppUrl, isTrustedSender, rendererUrlFor, secureWebPreferences } from './security';

const runner = new JobRunner();
// Projects live in the app's own data folder; remembered secrets are encrypted by the OS keychain
// (safeStorage, usable once the app is ready: the vault is made on the first secrets call).
const handlers = createHandlers(runner, 'electron', {
  dataDir: app.getPath('userData'),
  secretCipher: () => safeStorageCipher(safeStorage, process.platform),
  // The one-time grant helper ships in resources/privileges (packaged) or build/privileges.
  grantHelper: defaultGrantHelper(__dirname, app.isPackaged ? process.resourcesPath : undefined),
  // The key and source folder pickers, on the app's window.
  openDialog: openDialogWith(dialog, () => win, app.getPath('home')),
});
let win: BrowserWindow | undefined;

/** Where the renderer comes from: the dev server in `npm run dev` (loopback, not packaged), the built file otherwise. */
const rendererUrl = rendererUrlFor(process.env.ELECTRON_RENDERER_URL, app.isPackaged, pathToFileURL(path.join(__dirname, '../renderer/index.html')).toString());

/** Links the app may open, in the user's browser, never inside the app. */
const EXTERNAL_ALLOW = [/^https:\/\/ipxe\.org\//, /^https:\/\/github\.com\/bootchain\//];

function createWindow(): void {
  win = new BrowserWindow({
    width: 1200,
    height: 800,
    title: 'Bootchain',
    show: false,
    webPreferences: secureWebPreferences(path.join(__dirname, '../preload/index.js')),
  });
  const wc = win.webContents;
  wc.setWindowOpenHandler(({ url }) => {
    if (EXTERNAL_ALLOW.some((re) => re.test(url))) void shell.openExternal(url);
    return { action: 'deny' };
  });
  wc.on('will-navigate', (e, url) => {
    if (!isAppUrl(url, rendererUrl)) e.preventDefault();
  });
  wc.on('will-attach-webview', (e) => e.preventDefault());
  win.once('ready-to-show', () => win?.show());
  void win.loadURL(rendererUrl);
}

const callers = new WeakMap<WebContents, Caller>();
/**
 * The caller a window's page is: the owner of the jobs it starts, whose events go to that page
 * alone; when the page is gone its jobs are cancelled (unsubscribing means cancelling).
 */
function callerOf(wc: WebContents): Caller {
  let caller = callers.get(wc);
  if (caller) return caller;
  const id = `window-${wc.id}`;
  caller = { id };
  callers.set(wc, caller);
  const unsubscribe = runner.onEvent(
    (e) => {
      if (!wc.isDestroyed()) wc.send(JOB_EVENT_CHANNEL, e);
    },
    { owner: id },
  );
  wc.once('destroyed', () => {
    unsubscribe();
    void runner.cancelAll(id);
  });
  return caller;
}

function registerIpc(): void {
  for (const channel of CHANNELS) {
    // `envelope` travels beside the input: the page's name for the job a call starts.
    ipcMain.handle(channel, async (event, input: unknown, envelope?: unknown) => {
      if (!isTrustedSender(event, win?.webContents, rendererUrl)) {
        return err(appError('PERMISSION_DENIED', `Refused ${channel} from an untrusted frame`));
      }
      return dispatch(handlers, channel, input, callerOf(event.sender), envelope);
    });
  }
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => {
    if (win) {
      if (win.isMinimized()) win.restore();
      win.focus();
    }
  });
  app.on('web-contents-created', (_e, contents) => {
    contents.on('will-redirect', (e, url) => {
      if (!isAppUrl(url, rendererUrl)) e.preventDefault();
    });
  });
  void app.whenReady().then(() => {
    session.defaultSession.setPermissionRequestHandler((_wc, _perm, cb) => cb(false));
    session.defaultSession.setPermissionCheckHandler(() => false);
    session.defaultSession.webRequest.onHeadersReceived((details, cb) => {
      cb({ responseHeaders: { ...details.responseHeaders, 'Content-Security-Policy': [CSP] } });
    });
    registerIpc();
    createWindow();
  });
  app.on('window-all-closed', () => {
    void runner.cancelAll().then(() => app.quit());
  });
}
