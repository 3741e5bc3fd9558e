import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { isLoopbackWsUrl, VncView, type RfbFactory, type RfbLike } from './VncView';

// jsdom has no canvas, so noVNC cannot draw a session here: a stand-in RFB (an EventTarget
// that records what the view sets and calls) plays the connection's events. The real screen,
// QEMU's VNC through noVNC, is checked by the Install step's Playwright spec; the service's
// integration test checks that QEMU's WebSocket listener answers RFB on the URL given here.
class StandInRfb extends EventTarget implements RfbLike {
  viewOnly = false;
  scaleViewport = false;
  focusOnClick = false;
  calls: string[] = [];
  constructor(readonly target: HTMLElement) {
    super();
    const canvas = document.createElement('canvas');
    canvas.tabIndex = -1;
    canvas.setAttribute('data-testid', 'rfb-canvas');
    target.appendChild(canvas);
  }
  disconnect() {
    this.calls.push('disconnect');
  }
  focus() {
    this.calls.push('focus');
    (this.target.firstChild as HTMLElement).focus();
  }
  blur() {
    this.calls.push('blur');
  }
  sendCredentials(c: { password: string }) {
    this.calls.push(`credentials:${c.password.length}`);
  }
  sendCtrlAltDel() {
    this.calls.push('ctrl-alt-del');
  }
  fire(type: string, detail?: unknown) {
    act(() => {
      this.dispatchEvent(new CustomEvent(type, { detail }));
    });
  }
}

function standIn() {
  const made: Array<{ rfb: StandInRfb; url: string; options: Parameters<RfbFactory>[2] }> = [];
  const connect: RfbFactory = (target, url, options) => {
    const rfb = new StandInRfb(target);
    made.push({ rfb, url, options });
    return rfb;
  };
  return { made, connect };
}

const status = () => screen.getByTestId('vnc-status').textContent;
const state = () => screen.getByTestId('vnc-view').getAttribute('data-state');

afterEach(cleanup);

describe('VncView', () => {
  it('connecting, connected, toggles, lost: each state in the status line', async () => {
    const { made, connect } = standIn();
    const seen: string[] = [];
    const view = render(<VncView url="ws://127.0.0.1:41234" password="pw123456" connect={connect} label="Installer of ws1" onStatus={(s) => seen.push(s.state)} />);
    expect(status()).toMatch(/Connecting/);
    await act(async () => undefined);
    expect(made).toHaveLength(1);
    const { rfb, url, options } = made[0]!;
    expect(url).toBe('ws://127.0.0.1:41234');
    // QEMU's WebSocket listener speaks the "binary" subprotocol.
    expect(options).toEqual({ wsProtocols: ['binary'], shared: true, credentials: { password: 'pw123456' } });
    expect(rfb.scaleViewport).toBe(true);
    expect(rfb.viewOnly).toBe(false);
    rfb.fire('credentialsrequired');
    expect(rfb.calls).toContain('credentials:8');
    rfb.fire('connect');
    expect(state()).toBe('connected');
    expect(status()).toMatch(/click the screen .* to type into the VM/);
    expect(screen.getByRole('application', { name: 'Installer of ws1' })).toBeTruthy();

    fireEvent.click(screen.getByTestId('vnc-view-only'));
    expect(rfb.viewOnly).toBe(true);
    expect(status()).toBe('Connected (view only)');
    expect((screen.getByTestId('vnc-cad') as HTMLButtonElement).disabled).toBe(true);
    fireEvent.click(screen.getByTestId('vnc-view-only'));
    fireEvent.click(screen.getByTestId('vnc-scale'));
    expect(rfb.scaleViewport).toBe(false);
    fireEvent.click(screen.getByTestId('vnc-cad'));
    expect(rfb.calls).toContain('ctrl-alt-del');

    rfb.fire('disconnect', { clean: false });
    expect(state()).toBe('disconnected');
    expect(status()).toMatch(/^Disconnected: connection lost/);
    // Reconnect makes a new connection with the toggles as they are now.
    fireEvent.click(screen.getByTestId('vnc-reconnect'));
    await act(async () => undefined);
    expect(made).toHaveLength(2);
    expect(made[1]!.rfb.scaleViewport).toBe(false);
    expect(seen).toEqual(['connecting', 'connected', 'disconnected', 'connecting']);
    view.unmount();
    expect(made[1]!.rfb.calls).toContain('disconnect');
  });

  it('keyboard: Enter on the screen gives the keys to the VM, Ctrl+Alt+Shift takes them back', async () => {
    const { made, connect } = standIn();
    render(<VncView url="ws://127.0.0.1:41235" connect={connect} />);
    await act(async () => undefined);
    const { rfb } = made[0]!;
    rfb.fire('connect');
    const screenEl = screen.getByTestId('vnc-screen');
    expect(screenEl.tabIndex).toBe(0);
    screenEl.focus();
    fireEvent.keyDown(screenEl, { key: 'Enter' });
    expect(rfb.calls).toContain('focus');
    expect(document.activeElement?.getAttribute('data-testid')).toBe('rfb-canvas');
    expect(status()).toMatch(/keys go to the VM; Ctrl\+Alt\+Shift gives the keyboard back/);
    expect((screen.getByTestId('vnc-release') as HTMLButtonElement).disabled).toBe(false);
    let reachedCanvas = false;
    screen.getByTestId('rfb-canvas').addEventListener('keydown', () => (reachedCanvas = true));
    fireEvent.keyDown(screen.getByTestId('rfb-canvas'), { key: 'Shift', ctrlKey: true, altKey: true, shiftKey: true });
    expect(reachedCanvas).toBe(false);
    expect(rfb.calls).toContain('blur');
    expect(document.activeElement).toBe(screenEl);
    expect(status()).toMatch(/click the screen/);
  });

  it('a refused password says so; a URL off this computer is never connected to', async () => {
    const { made, connect } = standIn();
    render(<VncView url="ws://127.0.0.1:41236" connect={connect} />);
    await act(async () => undefined);
    made[0]!.rfb.fire('securityfailure', { status: 1, reason: 'Authentication failed \0' });
    made[0]!.rfb.fire('disconnect', { clean: true });
    expect(status()).toBe('Disconnected: the VM refused the connection: Authentication failed (wrong or missing VNC password)');
    cleanup();
    for (const url of ['ws://10.77.0.20:5700', 'wss://127.0.0.1:5700', 'http://127.0.0.1:5700', 'ws://127.0.0.1']) {
      render(<VncView url={url} connect={connect} />);
      await act(async () => undefined);
      expect(state()).toBe('disconnected');
      expect(status()).toMatch(/not connecting to .*a ws:\/\/ address on this computer/);
      expect(screen.queryByTestId('vnc-reconnect')).toBeNull();
      cleanup();
    }
    expect(made).toHaveLength(1);
    expect(isLoopbackWsUrl('ws://[::1]:5700')).toBe(true);
    expect(isLoopbackWsUrl('ws://user:pw@127.0.0.1:5700')).toBe(false);
  });

  it("the default client is noVNC's RFB (the package's export loads)", async () => {
    const mod = await import('@novnc/novnc');
    expect(typeof mod.default).toBe('function');
    expect(mod.default.prototype).toHaveProperty('sendCtrlAltDel');
  });
});
