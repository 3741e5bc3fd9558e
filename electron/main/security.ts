import type { BrowserWindowConstructorOptions, IpcMainInvokeEvent, WebContents } from 'electron';

/**
 * Where the renderer may open WebSockets beside its own origin: the installer VM's screen, QEMU's
 * VNC WebSocket listener, which is on loopback only and whose port is known only once QEMU runs
 * (the VNC view refuses any other address itself; the VNC password guards the port).
 */
export const VNC_CONNECT = 'ws://127.0.0.1:*';

/** The renderer's CSP; the same policy is in renderer/index.html as a meta tag. */
export const CSP = `default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ${VNC_CONNECT}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'`;

/** webPreferences written out in full (style guide §7): nothing left to defaults. */
export function secureWebPreferences(preload: string): NonNullable<BrowserWindowConstructorOptions['webPreferences']> {
  return {
    preload,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    experimentalFeatures: false,
    spellcheck: false,
  };
}

/**
 * The page the window loads: the built file, or — only in development (not packaged) — the dev
 * server named by ELECTRON_RENDERER_URL when it is plain http on loopback (electron-vite's).
 * Whatever the window loads is the one page that gets the IPC channels, so a remote URL from the
 * environment must never be taken: in the packaged app the variable is ignored.
 */
export function rendererUrlFor(override: string | undefined, packaged: boolean, fileUrl: string): string {
  if (packaged || override === undefined) return fileUrl;
  try {
    const u = new URL(override);
    const loopback = u.hostname === 'localhost' || u.hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(u.hostname);
    if (u.protocol === 'http:' && loopback && !u.username && !u.password) return u.toString();
  } catch {
    // not a URL
  }
  return fileUrl;
}

/** True when a URL is the app's own page (the packaged file or the dev server). */
export function isAppUrl(url: string, rendererUrl: string): boolean {
  try {
    const u = new URL(url);
    const r = new URL(rendererUrl);
    if (r.protocol === 'file:') return u.protocol === 'file:' && u.pathname === r.pathname;
    return u.origin === r.origin;
  } catch {
    return false;
  }
}

/** IPC sender check: only the main frame of our own window, showing our own page. */
export function isTrustedSender(event: IpcMainInvokeEvent, owner: WebContents | undefined, rendererUrl: string): boolean {
  const frame = event.senderFrame;
  if (!owner || event.sender !== owner || !frame) return false;
  if (frame !== owner.mainFrame) return false;
  return isAppUrl(frame.url, rendererUrl);
}
