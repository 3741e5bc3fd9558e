import { useCallback, useEffect, useRef, useState } from 'react';

/**
 * The installer VM's screen in the window: noVNC's RFB client on QEMU's VNC WebSocket listener
 * (vmInstall's `started` event gives `vnc.url` and the run's `vnc.password`). Only a loopback
 * ws:// URL is taken: the screen is a local VM's, never a remote host's.
 */

/** What the view needs of noVNC's RFB object (a stand-in in DOM tests: jsdom has no canvas to draw on). */
export interface RfbLike extends EventTarget {
  viewOnly: boolean;
  scaleViewport: boolean;
  focusOnClick: boolean;
  disconnect(): void;
  focus(): void;
  blur(): void;
  sendCredentials(c: { password: string }): void;
  sendCtrlAltDel(): void;
}

/** Makes the RFB connection on `target`; the default loads noVNC on first use (kept out of the main bundle). */
export type RfbFactory = (target: HTMLElement, url: string, options: { wsProtocols: string[]; shared: boolean; credentials?: { password: string } }) => RfbLike | Promise<RfbLike>;

const noVnc: RfbFactory = async (target, url, options) => {
  const { default: RFB } = await import('@novnc/novnc');
  return new RFB(target, url, options);
};

/** The connection's state, shown in the status line (and passed to onStatus). */
export type VncStatus = { state: 'connecting' } | { state: 'connected' } | { state: 'disconnected'; reason: string };

/** Whether a URL is a ws:// URL on this computer (127.0.0.0/8, localhost, [::1]) with a port. */
export function isLoopbackWsUrl(url: string): boolean {
  try {
    const u = new URL(url);
    const host = u.hostname;
    return u.protocol === 'ws:' && u.port !== '' && !u.username && !u.password && (host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host));
  } catch {
    return false;
  }
}

/** The view's inputs: the endpoint from vmInstall's `started` event, and how to start. */
export interface VncViewProps {
  /** ws://127.0.0.1:PORT — QEMU's VNC WebSocket listener. */
  url: string;
  /** The run's VNC password (QEMU asks for one: other local users must not type into the installer). */
  password?: string | undefined;
  /** Start in view-only mode (no keys or mouse sent). */
  viewOnly?: boolean | undefined;
  /** What the screen shows, for its accessible name (e.g. "Installer of ws1"). */
  label?: string | undefined;
  onStatus?: ((s: VncStatus) => void) | undefined;
  /** Tests give a stand-in; the app uses noVNC. */
  connect?: RfbFactory | undefined;
}

/** The reason in words for a noVNC disconnect or security failure. */
function reasonOf(e: Event, clean: boolean): string {
  if (e.type === 'securityfailure') {
    // QEMU's reason ends in padding (a NUL, a space): shown trimmed.
    const reason = ((e as CustomEvent<{ status?: number; reason?: string }>).detail?.reason ?? '').replace(/[\s\0]+$/, '');
    return `the VM refused the connection${reason ? `: ${reason}` : ''} (wrong or missing VNC password)`;
  }
  return clean ? 'closed' : 'connection lost (the VM stopped, or its screen is not listening)';
}

/** The VNC screen with its status line, view-only and scale-to-fit toggles, and keyboard focus handling. */
export function VncView(props: VncViewProps) {
  const screenRef = useRef<HTMLDivElement>(null);
  const rfbRef = useRef<RfbLike | undefined>(undefined);
  const [status, setStatusState] = useState<VncStatus>({ state: 'connecting' });
  const [viewOnly, setViewOnly] = useState(props.viewOnly ?? false);
  const [scale, setScale] = useState(true);
  const [focused, setFocused] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const onStatus = useRef(props.onStatus);
  onStatus.current = props.onStatus;
  const setStatus = useCallback((s: VncStatus) => {
    setStatusState(s);
    onStatus.current?.(s);
  }, []);
  // The toggles as they are when the connection is made (the effect must not reconnect on a toggle).
  const settings = useRef({ viewOnly, scale });
  settings.current = { viewOnly, scale };

  useEffect(() => {
    const target = screenRef.current;
    if (!target) return;
    if (!isLoopbackWsUrl(props.url)) {
      setStatus({ state: 'disconnected', reason: `not connecting to ${props.url}: the VM's screen is a ws:// address on this computer` });
      return;
    }
    let gone = false;
    let securityFailed: string | undefined;
    setStatus({ state: 'connecting' });
    const connect = props.connect ?? noVnc;
    const password = props.password;
    Promise.resolve(connect(target, props.url, { wsProtocols: ['binary'], shared: true, ...(password ? { credentials: { password } } : {}) })).then(
      (rfb) => {
        if (gone) return rfb.disconnect();
        rfbRef.current = rfb;
        rfb.viewOnly = settings.current.viewOnly;
        rfb.scaleViewport = settings.current.scale;
        rfb.focusOnClick = true;
        rfb.addEventListener('connect', () => !gone && setStatus({ state: 'connected' }));
        rfb.addEventListener('credentialsrequired', () => {
          if (password) rfb.sendCredentials({ password });
          else securityFailed = 'the VM asks for a VNC password and none was given';
        });
        rfb.addEventListener('securityfailure', (e) => {
          securityFailed = reasonOf(e, false);
        });
        rfb.addEventListener('disconnect', (e) => {
          rfbRef.current = undefined;
          const clean = (e as CustomEvent<{ clean?: boolean }>).detail?.clean ?? false;
          if (!gone) setStatus({ state: 'disconnected', reason: securityFailed ?? reasonOf(e, clean) });
        });
      },
      (e: unknown) => !gone && setStatus({ state: 'disconnected', reason: `the VNC client did not start: ${e instanceof Error ? e.message : String(e)}` }),
    );
    return () => {
      gone = true;
      rfbRef.current?.disconnect();
      rfbRef.current = undefined;
    };
  }, [props.url, props.password, props.connect, attempt, setStatus]);

  useEffect(() => {
    if (rfbRef.current) rfbRef.current.viewOnly = viewOnly;
  }, [viewOnly]);
  useEffect(() => {
    if (rfbRef.current) rfbRef.current.scaleViewport = scale;
  }, [scale]);

  const statusText =
    status.state === 'connecting' ? 'Connecting to the VM screen…' : status.state === 'connected' ? (viewOnly ? 'Connected (view only)' : focused ? 'Connected — keys go to the VM; Ctrl+Alt+Shift gives the keyboard back' : 'Connected — click the screen (or focus it and press Enter) to type into the VM') : `Disconnected: ${status.reason}`;
  const connected = status.state === 'connected';
  return (
    <div className="vnc-view" data-testid="vnc-view" data-state={status.state}>
      <div className="actions">
        <label className="small" style={{ display: 'inline-flex', gap: 6, margin: 0 }}>
          <input type="checkbox" checked={viewOnly} onChange={(e) => setViewOnly(e.target.checked)} data-testid="vnc-view-only" /> View only
        </label>
        <label className="small" style={{ display: 'inline-flex', gap: 6, margin: 0 }}>
          <input type="checkbox" checked={scale} onChange={(e) => setScale(e.target.checked)} data-testid="vnc-scale" /> Scale to fit
        </label>
        <button type="button" disabled={!connected || viewOnly} onClick={() => rfbRef.current?.sendCtrlAltDel()} data-testid="vnc-cad">
          Send Ctrl+Alt+Del
        </button>
        <button
          type="button"
          disabled={!connected || !focused}
          onClick={() => {
            rfbRef.current?.blur();
            setFocused(false);
          }}
          data-testid="vnc-release"
        >
          Release keyboard
        </button>
        {status.state === 'disconnected' && isLoopbackWsUrl(props.url) ? (
          <button type="button" onClick={() => setAttempt((n) => n + 1)} data-testid="vnc-reconnect">
            Reconnect
          </button>
        ) : null}
      </div>
      <div className="small muted" role="status" aria-live="polite" data-testid="vnc-status">
        {statusText}
      </div>
      <div
        ref={screenRef}
        role="application"
        aria-label={props.label ?? 'VM screen'}
        aria-roledescription="remote screen"
        data-testid="vnc-screen"
        // Reachable by Tab; Enter gives the keyboard to the VM (noVNC's canvas is not in the tab order).
        tabIndex={0}
        onKeyDown={(e) => {
          if (e.target === e.currentTarget && e.key === 'Enter' && connected && !viewOnly) {
            e.preventDefault();
            rfbRef.current?.focus();
          }
        }}
        onKeyDownCapture={(e) => {
          // Ctrl+Alt+Shift gives the keyboard back (else every key, Tab too, goes to the VM):
          // caught before noVNC's own listener on its canvas sees it.
          if (e.target !== e.currentTarget && e.ctrlKey && e.altKey && e.shiftKey) {
            e.stopPropagation();
            e.preventDefault();
            rfbRef.current?.blur();
            screenRef.current?.focus();
          }
        }}
        onFocus={(e) => setFocused(e.target !== e.currentTarget)}
        onBlur={(e) => {
          if (!e.currentTarget.contains(e.relatedTarget as Node | null) || e.relatedTarget === e.currentTarget) setFocused(false);
        }}
        style={{ width: '100%', height: 480, background: '#282828', outline: focused ? '2px solid #3b82f6' : 'none', overflow: 'hidden' }}
      />
    </div>
  );
}
