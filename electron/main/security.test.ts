import { describe, expect, it } from 'vitest';
import { CSP, isAppUrl, isTrustedSender, rendererUrlFor, secureWebPreferences } from './security';

// security.ts imports only types from 'electron', so it runs here in plain Node.
describe('main-process security settings', () => {
  it('writes out every webPreference that matters', () => {
    expect(secureWebPreferences('/p.js')).toMatchObject({
      preload: '/p.js',
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
    });
  });
  it('has a strict CSP', () => {
    expect(CSP).toMatch(/^default-src 'self'; script-src 'self';/);
    expect(CSP).not.toMatch(/unsafe-inline|unsafe-eval/);
  });
  it('takes a renderer URL from the environment only unpackaged, and only plain http on loopback', () => {
    const file = 'file:///opt/bootchain/out/renderer/index.html';
    expect(rendererUrlFor(undefined, false, file)).toBe(file);
    expect(rendererUrlFor('http://localhost:5173', false, file)).toBe('http://localhost:5173/');
    expect(rendererUrlFor('http://127.0.0.1:5173/', false, file)).toBe('http://127.0.0.1:5173/');
    expect(rendererUrlFor('http://[::1]:5173/', false, file)).toBe('http://[::1]:5173/');
    for (const bad of ['http://127.0.0.1:5173/', 'http://localhost:5173']) expect(rendererUrlFor(bad, true, file), bad).toBe(file);
    for (const bad of ['https://localhost:5173/', 'http://10.0.0.5:5173/', 'http://localhost.evil.example/', 'http://127.0.0.1.nip.io/', 'http://user:pw@localhost:5173/', 'ws://localhost:5173/', 'file:///tmp/x.html', 'javascript:alert(1)', '', 'nonsense']) {
      expect(rendererUrlFor(bad, false, file), bad).toBe(file);
    }
  });
  it('recognises only the app page', () => {
    const file = 'file:///opt/bootchain/out/renderer/index.html';
    expect(isAppUrl(file, file)).toBe(true);
    expect(isAppUrl('file:///etc/passwd', file)).toBe(false);
    expect(isAppUrl('https://evil.example/', file)).toBe(false);
    expect(isAppUrl('http://localhost:5173/x', 'http://localhost:5173/')).toBe(true);
    expect(isAppUrl('not a url', file)).toBe(false);
  });
  it('trusts only the main frame of our own window on our page', () => {
    const file = 'file:///app/index.html';
    const mainFrame = { url: file };
    const owner = { mainFrame } as never;
    const ev = (sender: unknown, frame: unknown) => ({ sender, senderFrame: frame }) as never;
    expect(isTrustedSender(ev(owner, mainFrame), owner, file)).toBe(true);
    expect(isTrustedSender(ev(owner, { url: file }), owner, file)).toBe(false); // a subframe
    expect(isTrustedSender(ev({}, mainFrame), owner, file)).toBe(false); // another webContents
    expect(isTrustedSender(ev(owner, mainFrame), undefined, file)).toBe(false);
    const navigated = { mainFrame: { url: 'https://evil.example/' } } as never;
    expect(isTrustedSender(ev(navigated, (navigated as { mainFrame: unknown }).mainFrame), navigated, file)).toBe(false);
  });
});
