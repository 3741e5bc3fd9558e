import { useEffect, useMemo } from 'react';
import { RecentProjects } from './RecentProjects';
import { ErrorBox } from '../../components/ErrorBox';
import { ProgressBar } from '../../components/ProgressBar';
import { useApp } from '../../store/index';
import { portalKey, validateScanForm } from '../../store/scan-slice';

/** Scan step: pick subnets, scan for TCP 3260, see portals as they are found, choose some. */
export function ScanStep() {
  const scan = useApp((s) => s.scan);
  const setField = useApp((s) => s.setScanField);
  const loadInterfaces = useApp((s) => s.loadInterfaces);
  const addTargetBlock = useApp((s) => s.addTargetBlock);
  const startScan = useApp((s) => s.startScan);
  const cancelScan = useApp((s) => s.cancelScan);
  const toggleSelect = useApp((s) => s.toggleSelect);
  const setManual = useApp((s) => s.setManual);
  const addManualPortal = useApp((s) => s.addManualPortal);

  useEffect(() => {
    void loadInterfaces();
  }, [loadInterfaces]);

  // Instant validation with the same rules the service applies.
  const check = useMemo(() => validateScanForm(scan), [scan]);
  const formError = !check.ok && scan.targetsText.trim() !== '' ? check.error : undefined;
  const needsConfirm = formError?.code === 'NEEDS_CONFIRMATION' ? formError.field : undefined;
  const running = scan.status === 'running';
  const portals = Object.values(scan.portals).sort((a, b) =>
    a.address.localeCompare(b.address, undefined, { numeric: true }) || a.port - b.port,
  );

  return (
    <section className="step" data-testid="step-scan">
      <h2>Scan the network for iSCSI portals</h2>
      <p className="lead">
        Bootchain connects to TCP port 3260 on each address and checks every open port with an iSCSI login
        attempt, so a NAS shows up as a portal and anything else listening there is flagged.
      </p>

      <RecentProjects />

      <div className="subnets" data-testid="subnets">
        <h3>This computer’s networks</h3>
        {scan.interfaces.filter((i) => !i.internal).length === 0 ? (
          <p className="muted">No network interfaces with IPv4 found — type a subnet below.</p>
        ) : (
          <ul>
            {scan.interfaces
              .filter((i) => !i.internal)
              .flatMap((i) =>
                i.subnets.map((s) => (
                  <li key={`${i.name}-${s.address}`}>
                    <button type="button" className="chip" onClick={() => addTargetBlock(s.cidr)} data-testid={`subnet-${s.cidr}`}>
                      + {s.cidr}
                    </button>{' '}
                    <span className="muted">
                      {i.name}, this computer is {s.address}
                    </span>
                  </li>
                )),
              )}
          </ul>
        )}
      </div>

      <form
        className="scan-form"
        onSubmit={(e) => {
          e.preventDefault();
          void startScan();
        }}
      >
        <label>
          Subnets or addresses
          <input
            data-testid="scan-targets"
            value={scan.targetsText}
            placeholder="192.168.1.0/24, 10.0.0.5"
            onChange={(e) => setField('targetsText', e.target.value)}
            aria-invalid={formError ? true : undefined}
          />
        </label>
        <label>
          Ports
          <input data-testid="scan-ports" value={scan.portsText} onChange={(e) => setField('portsText', e.target.value)} />
        </label>
        <details className="advanced">
          <summary>Advanced</summary>
          <label>
            Timeout per connect (ms)
            <input
              type="number"
              min={50}
              max={30000}
              value={scan.timeoutMs}
              data-testid="scan-timeout"
              onChange={(e) => setField('timeoutMs', Number(e.target.value))}
            />
          </label>
          <label>
            Connections at once
            <input
              type="number"
              min={1}
              max={4096}
              value={scan.concurrency}
              data-testid="scan-concurrency"
              onChange={(e) => setField('concurrency', Number(e.target.value))}
            />
          </label>
        </details>
        {needsConfirm === 'confirmLarge' || scan.confirmLarge ? (
          <label className="confirm">
            <input
              type="checkbox"
              checked={scan.confirmLarge}
              data-testid="confirm-large"
              onChange={(e) => setField('confirmLarge', e.target.checked)}
            />
            Yes, scan more than a /16 (this can take a long time)
          </label>
        ) : null}
        {needsConfirm === 'confirmPublic' || scan.confirmPublic ? (
          <label className="confirm">
            <input
              type="checkbox"
              checked={scan.confirmPublic}
              data-testid="confirm-public"
              onChange={(e) => setField('confirmPublic', e.target.checked)}
            />
            Yes, these public addresses are mine to scan
          </label>
        ) : null}
        <div className="actions">
          <button type="submit" className="primary" disabled={running} data-testid="scan-start">
            {running ? 'Scanning…' : 'Scan'}
          </button>
          {running ? (
            <button type="button" onClick={() => void cancelScan()} data-testid="scan-cancel">
              Cancel
            </button>
          ) : null}
        </div>
      </form>

      {formError ? <ErrorBox error={formError} testId="scan-form-error" /> : null}
      {scan.error && !formError ? <ErrorBox error={scan.error} testId="scan-error" /> : null}
      {running && scan.progress ? <ProgressBar progress={scan.progress} /> : null}
      {scan.status === 'cancelled' ? (
        <p className="notice" data-testid="scan-cancelled">
          Scan cancelled. The portals found before cancelling are kept below.
        </p>
      ) : null}
      {scan.status === 'succeeded' && scan.result ? (
        <p className="muted" data-testid="scan-summary">
          Scanned {scan.result.probed} address/port pairs in {(scan.result.durationMs / 1000).toFixed(1)} s:{' '}
          {scan.result.portals.filter((p) => p.iscsi).length} iSCSI portal(s), {scan.result.portals.filter((p) => p.iscsi === false).length}{' '}
          other open port(s).
        </p>
      ) : null}

      <table className="portals" data-testid="portals">
        <thead>
          <tr>
            <th>Use</th>
            <th>Address</th>
            <th>Port</th>
            <th>Name</th>
            <th>What answers</th>
          </tr>
        </thead>
        <tbody>
          {portals.length === 0 ? (
            <tr>
              <td colSpan={5} className="muted">
                {running ? 'Nothing found yet…' : 'No portals yet: run a scan or add one by hand.'}
              </td>
            </tr>
          ) : (
            portals.map((p) => {
              const key = portalKey(p);
              return (
                <tr key={key} data-testid="portal-row" data-address={p.address} data-port={p.port} data-iscsi={String(p.iscsi)}>
                  <td>
                    <input
                      type="checkbox"
                      disabled={p.iscsi !== true}
                      checked={scan.selected.includes(key)}
                      onChange={() => toggleSelect(key)}
                      aria-label={`use ${key}`}
                    />
                  </td>
                  <td>{p.address}</td>
                  <td>{p.port}</td>
                  <td>{p.name ?? ''}</td>
                  <td title={p.evidence}>
                    {p.iscsi === true ? (
                      <span className="badge ok">iSCSI portal</span>
                    ) : p.iscsi === false ? (
                      <span className="badge warn">Not iSCSI</span>
                    ) : (
                      <span className="badge">checking…</span>
                    )}{' '}
                    <span className="muted small">{p.evidence ?? ''}</span>
                  </td>
                </tr>
              );
            })
          )}
        </tbody>
      </table>

      <form
        className="manual"
        onSubmit={(e) => {
          e.preventDefault();
          void addManualPortal();
        }}
      >
        <h3>Add a portal by hand</h3>
        <input
          placeholder="192.168.1.20"
          aria-label="Portal address"
          value={scan.manual.address}
          data-testid="manual-address"
          onChange={(e) => setManual(e.target.value, scan.manual.port)}
        />
        <input value={scan.manual.port} aria-label="Portal port" data-testid="manual-port" size={6} onChange={(e) => setManual(scan.manual.address, e.target.value)} />
        <button type="submit" disabled={scan.manual.busy || scan.manual.address.trim() === ''} data-testid="manual-add">
          {scan.manual.busy ? 'Checking…' : 'Check and add'}
        </button>
        {scan.manual.error ? <ErrorBox error={scan.manual.error} testId="manual-error" /> : null}
      </form>
    </section>
  );
}
