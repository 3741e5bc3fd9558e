import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { rec } from './electron-stand-in';
import { CSP } from './security';

// The main process's wiring (electron/main/index.ts) run against a stand-in for the `electron`
// module (electron-stand-in.ts): no Electron binary can run here, so it records what the real
// module would be asked to do — the window's options, the handlers it installs — and calls those
// handlers as Electron would. e2e/specs/electron.spec.ts checks the same in the real app where the
// binary exists.
vi.mock('electron', () => import('./electron-stand-in'));

describe('main process wiring (stand-in electron module)', () => {
  beforeAll(async () => {
    await import('./index');
    await new Promise((r) => setTimeout(r, 20));
  });
  const win = () => rec.windows[0]!;

  it('opens one window, locked down, on the app page', () => {
    expect(rec.windows).toHaveLength(1);
    expect(win().opts.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, webviewTag: false });
    expect(win().url).toMatch(/^file:\/\/.*\/renderer\/index\.html$/);
  });

  it('denies every permission and sets the CSP header on every response', () => {
    let granted: boolean | undefined;
    rec.permission!({}, 'media', (ok) => (granted = ok));
    expect(granted).toBe(false);
    expect(rec.permissionCheck!()).toBe(false);
    let headers: Record<string, string[]> = {};
    rec.headers!({ responseHeaders: { 'X-Other': ['1'] } }, (r) => (headers = r.responseHeaders));
    expect(headers).toEqual({ 'X-Other': ['1'], 'Content-Security-Policy': [CSP] });
  });

  it('denies new windows (allow-listed https links go to the browser) and navigation away', () => {
    const open = win().wc.openHandler as (d: { url: string }) => { action: string };
    expect(open({ url: 'https://ipxe.org/cmd/sanboot' })).toEqual({ action: 'deny' });
    expect(open({ url: 'https://evil.example/' })).toEqual({ action: 'deny' });
    expect(open({ url: 'http://ipxe.org/' })).toEqual({ action: 'deny' });
    expect(rec.opened).toEqual(['https://ipxe.org/cmd/sanboot']);
    const nav = (url: string) => {
      let prevented = false;
      win().wc.emit('will-navigate', { preventDefault: () => (prevented = true) }, url);
      return prevented;
    };
    expect(nav('https://evil.example/')).toBe(true);
    expect(nav('file:///etc/passwd')).toBe(true);
    expect(nav(win().url!)).toBe(false);
    let webview = false;
    win().wc.emit('will-attach-webview', { preventDefault: () => (webview = true) });
    expect(webview).toBe(true);
  });

  it('answers IPC only from its own main frame, validated', async () => {
    const handle = rec.handles.get('app:info')!;
    expect(rec.handles.size).toBeGreaterThan(20);
    const own = { sender: win().wc, senderFrame: win().wc.mainFrame };
    expect(await handle(own, {})).toMatchObject({ ok: true, value: { transport: 'electron' } });
    const sub = { sender: win().wc, senderFrame: { url: win().url } };
    expect(await handle(sub, {})).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } });
    expect(await rec.handles.get('iscsi:discover')!(own, { portals: 'not a list' })).toMatchObject({ ok: false, error: { code: 'INVALID_INPUT' } });
    // The safeStorage stand-in answers as Electron does on Linux without a keyring.
    expect(await rec.handles.get('secrets:status')!(own, {})).toMatchObject({ ok: true, value: { backend: 'basic_text', warning: expect.stringContaining('protects nothing') } });
  });

  it('keeps a single instance: a second start focuses this window', () => {
    expect(rec.quit).toBe(0);
    expect(rec.appEvents.has('second-instance')).toBe(true);
  });
});

/** Runs main again (a fresh module) as packaged or not, with ELECTRON_RENDERER_URL set; returns its window. */
async function startMain(packaged: boolean, rendererUrl: string | undefined) {
  rec.windows.length = 0;
  rec.handles.clear();
  rec.packaged = packaged;
  if (rendererUrl === undefined) delete process.env.ELECTRON_RENDERER_URL;
  else process.env.ELECTRON_RENDERER_URL = rendererUrl;
  vi.resetModules();
  await import('./index');
  await new Promise((r) => setTimeout(r, 20));
  return rec.windows[0]!;
}

describe('the renderer URL override (ELECTRON_RENDERER_URL): a dev-server aid, never for the packaged app', () => {
  afterAll(() => {
    delete process.env.ELECTRON_RENDERER_URL;
    rec.packaged = false;
  });

  it('packaged: a remote page in the environment is not loaded, and a page at that URL gets no secrets', async () => {
    const w = await startMain(true, 'https://evil.example/');
    expect(w.url).toMatch(/^file:\/\/.*\/renderer\/index\.html$/);
    const own = { sender: w.wc, senderFrame: w.wc.mainFrame };
    const set = await rec.handles.get('secrets:set')!(own, { key: 'chap/demo/ws1', value: 'a-chap-secret-123', remember: false });
    expect(set).toMatchObject({ ok: true });
    expect(await rec.handles.get('secrets:get')!(own, { keys: ['chap/demo/ws1'] })).toMatchObject({ ok: true, value: { 'chap/demo/ws1': 'a-chap-secret-123' } });
    // The window's own main frame showing the remote page (what the override used to do).
    (w.wc.mainFrame as { url: string }).url = 'https://evil.example/';
    expect(await rec.handles.get('secrets:get')!(own, { keys: ['chap/demo/ws1'] })).toMatchObject({ ok: false, error: { code: 'PERMISSION_DENIED' } });
  });

  it('packaged: even a loopback dev-server URL is ignored', async () => {
    expect((await startMain(true, 'http://127.0.0.1:5173/')).url).toMatch(/^file:\/\//);
  });

  it('not packaged: only a loopback http URL is taken (electron-vite dev); a remote or https one is refused', async () => {
    expect((await startMain(false, 'http://localhost:5173/')).url).toBe('http://localhost:5173/');
    expect((await startMain(false, 'http://127.0.0.1:5173/')).url).toBe('http://127.0.0.1:5173/');
    for (const bad of ['https://evil.example/', 'http://192.168.1.5:5173/', 'http://evil.example:5173/', 'http://127.0.0.1.evil.example/', 'file:///tmp/x.html', 'javascript:alert(1)', 'not a url']) {
      expect((await startMain(false, bad)).url, bad).toMatch(/^file:\/\/.*\/renderer\/index\.html$/);
    }
  });
});
