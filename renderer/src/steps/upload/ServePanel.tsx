import { useEffect } from 'react';
import { ErrorBox } from '../../components/ErrorBox';
import { formatBytes } from '../../components/files';
import { useApp } from '../../store/index';

/** The boot server's recent events, newest first (the live panel and the Diagnostics timeline). */
export function ServeTimeline({ limit = 30 }: { limit?: number }) {
  const events = useApp((s) => s.serve.events);
  if (events.length === 0) return null;
  return (
    <table className="portals small" data-testid="serve-events">
      <tbody>
        {[...events]
          .reverse()
          .slice(0, limit)
          .map((e, i) => (
            <tr key={`${e.at}-${i}`} data-testid="serve-event" className={e.status === 'failed' || e.status === 'refused' || e.status === 'warning' ? 'bad' : ''}>
              <td className="mono">{new Date(e.at).toLocaleTimeString()}</td>
              <td>{e.kind}</td>
              <td className="mono">{e.client}</td>
              <td className="mono">{e.file ?? ''}</td>
              <td>{e.status}</td>
              <td>{e.bytes ? formatBytes(e.bytes) : ''}</td>
              <td>{e.message ?? ''}</td>
            </tr>
          ))}
      </tbody>
    </table>
  );
}

/** "Serve from this computer": TFTP + HTTP (+ proxyDHCP) of the project's files, with a live panel. */
export function ServePanel() {
  const s = useApp((st) => st.serve);
  const setServe = useApp((st) => st.setServe);
  const load = useApp((st) => st.loadServeInterfaces);
  const start = useApp((st) => st.startServe);
  const stop = useApp((st) => st.stopServe);
  useEffect(() => {
    void load();
  }, [load]);
  return (
    <div className="serve" data-testid="serve-panel">
      <h3>Or serve the boot files from this computer</h3>
      <p className="small">
        For a NAS without TFTP, or a router you cannot change: Bootchain serves the project's files over TFTP and HTTP from here while
        you set up and test. With proxyDHCP on, PXE clients learn where to boot from this computer — the router keeps giving out
        addresses, untouched. Ports below 1024 (TFTP 69, DHCP 67) need the one-time grant described in the README.
      </p>
      <div className="grid2">
        <label>
          Serve on
          <select value={s.address} onChange={(e) => setServe({ address: e.target.value })} disabled={s.running} data-testid="serve-address">
            {s.interfaces.flatMap((i) =>
              i.subnets.map((sub) => (
                <option key={`${i.name}-${sub.address}`} value={sub.address}>
                  {sub.address} ({i.name}, {sub.cidr})
                </option>
              )),
            )}
          </select>
        </label>
        <label>
          TFTP port
          <input value={s.tftpPort} onChange={(e) => setServe({ tftpPort: e.target.value })} disabled={s.running} data-testid="serve-tftp-port" />
        </label>
        <label>
          HTTP port (empty: none)
          <input value={s.httpPort} onChange={(e) => setServe({ httpPort: e.target.value })} disabled={s.running} data-testid="serve-http-port" />
        </label>
        <label className="inline">
          <input type="checkbox" checked={s.proxyDhcp} onChange={(e) => setServe({ proxyDhcp: e.target.checked })} disabled={s.running} data-testid="serve-proxy" />
          Answer PXE clients (proxyDHCP; never hands out addresses)
        </label>
      </div>
      <label className="inline switch">
        <input type="checkbox" checked={s.running} onChange={(e) => void (e.target.checked ? start() : stop())} data-testid="serve-switch" />
        <strong>Serve from this computer</strong> {s.running ? <span className="badge ok">serving</span> : null}
      </label>
      {s.note ? (
        <p className="small" data-testid="serve-note">
          {s.note}
        </p>
      ) : null}
      {s.error ? <ErrorBox error={s.error} testId="serve-error" /> : null}
      {s.running || s.events.length > 0 ? (
        <div data-testid="serve-live">
          <p>
            <span data-testid="serve-clients">{s.counts.clients}</span> client(s) seen · <span data-testid="serve-files">{s.counts.files}</span> file(s)
            served · {formatBytes(s.counts.bytes)} · <span data-testid="serve-errors">{s.counts.errors}</span> error(s)
          </p>
          <ServeTimeline />
        </div>
      ) : null}
    </div>
  );
}
