import type { BrowserWindowConstructorOptions, IpcMainInvokeEvent, WebContents } from 'electron';

/** The renderer's CSP; the same policy is in renderer/index.html as a meta tag. */
export const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

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
