import { ChapFields } from '../../components/ChapFields';
import { ErrorBox } from '../../components/ErrorBox';
import { formatBytes } from '../../components/files';
import { ProgressBar } from '../../components/ProgressBar';
import { useApp } from '../../store/index';
import type { ProbeState } from '../../store/target-slice';

function ProbeCell({ state }: { state: ProbeState | undefined }) {
  if (!state || state.status === 'idle') return <span className="muted">waiting…</span>;
  if (state.status === 'running') return <span className="badge">checking…</span>;
  if (state.status === 'failed' && state.error) return <ErrorBox error={state.error} testId="probe-error" />;
  const r = state.result;
  if (!r) return <span className="muted">{state.status}</span>;
  const disk = r.luns.find((l) => l.lun === r.bootLun);
  if (!disk) return <span className="badge warn">no disk LUN</span>;
  return (
    <span data-testid="probe-summary">
      <strong>{disk.sizeBytes === undefined ? '' : formatBytes(disk.sizeBytes)}</strong> · LUN {disk.lun} · {disk.vendor} {disk.product}
      {disk.serial ? ` · serial ${disk.serial}` : ''} · <span className={disk.layout?.verdict === 'empty' ? 'badge ok' : 'badge warn'}>{disk.layout?.summary}</span>
    </span>
  );
}

/** Target step: discover targets on the chosen portals, see each one's disk, choose one. */
export function TargetStep() {
  const t = useApp((s) => s.target);
  const scan = useApp((s) => s.scan);
  const setInitiatorName = useApp((s) => s.setInitiatorName);
  const setChap = useApp((s) => s.setChap);
  const discoverTargets = useApp((s) => s.discoverTargets);
  const probe = useApp((s) => s.probe);
  const chooseTarget = useApp((s) => s.chooseTarget);
  const confirmChoice = useApp((s) => s.confirmChoice);
  const portals = scan.selected.filter((k) => scan.portals[k]?.iscsi === true);
  const running = t.discover.status === 'running';
  const targets = t.discover.result?.targets ?? [];

  return (
    <section className="step" data-testid="step-target">
      <h2>Choose the workstation’s disk</h2>
      <p className="lead">
        Bootchain asks each portal for its targets (iSCSI SendTargets), then logs in to each one to show what disk it holds. Nothing is
        written.
      </p>
      <p>
        Portals: <strong data-testid="target-portals">{portals.join(', ') || 'none — go back to Scan'}</strong>
      </p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void discoverTargets();
        }}
      >
        <label>
          Log in as initiator (IQN)
          <input value={t.initiatorName} onChange={(e) => setInitiatorName(e.target.value)} data-testid="initiator-name" />
        </label>
        <ChapFields title="Discovery needs CHAP" value={t.discoveryChap} onChange={(p) => setChap('discoveryChap', p)} testId="discovery-chap" />
        <ChapFields title="Targets need CHAP" value={t.targetChap} onChange={(p) => setChap('targetChap', p)} testId="target-chap" />
        <div className="actions">
          <button type="submit" className="primary" disabled={running || portals.length === 0} data-testid="discover-start">
            {running ? (t.discover.result ? 'Checking the disks…' : 'Discovering…') : t.discover.result ? 'Discover again' : 'Discover targets'}
          </button>
        </div>
      </form>
      {running && t.discover.progress ? <ProgressBar progress={t.discover.progress} /> : null}
      {t.discover.error ? <ErrorBox error={t.discover.error} testId="discover-error" /> : null}
      {t.discover.result?.failures.map((f) => (
        <div key={`${f.portal.address}:${f.portal.port}`} data-testid="discover-failure">
          <strong>
            {f.portal.address}:{f.portal.port}
          </strong>
          <ErrorBox error={f.error} />
        </div>
      ))}
      {t.discover.result ? (
        <p className="muted" data-testid="discover-summary">
          {targets.length} target(s) on {t.discover.result.results.length} portal(s).
        </p>
      ) : null}

      {targets.length > 0 ? (
        <table className="portals targets" data-testid="targets">
          <thead>
            <tr>
              <th>Target</th>
              <th>Portals</th>
              <th>Disk</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {targets.map((x) => {
              const st = t.probes[x.name];
              const chosen = t.chosen?.target === x.name;
              return (
                <tr key={x.name} data-testid="target-row" data-target={x.name} data-status={st?.status ?? 'idle'} className={chosen ? 'chosen' : undefined}>
                  <td className="mono">{x.name}</td>
                  <td className="small">{x.portals.map((p) => `${p.address}:${p.port}`).join(' ')}</td>
                  <td>
                    <ProbeCell state={st} />
                  </td>
                  <td className="nowrap">
                    {st?.status === 'succeeded' && st.result?.bootLun !== undefined ? (
                      <button type="button" className={chosen ? 'primary' : undefined} onClick={() => chooseTarget(x.name)} data-testid="choose-target">
                        {chosen ? 'Chosen ✓' : 'Use this disk'}
                      </button>
                    ) : (
                      <button type="button" disabled={st?.status === 'running'} onClick={() => void probe(x.name)} data-testid="probe-target">
                        Check again
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}

      {t.confirm ? (
        <div className="dialog" role="alertdialog" aria-modal="true" data-testid="confirm-dialog">
          <h3>This disk is not empty</h3>
          <p>
            <span className="mono">{t.confirm}</span> already holds: {(() => {
              const r = t.probes[t.confirm]?.result;
              return r?.luns.find((l) => l.lun === r.bootLun)?.layout?.summary;
            })()}
            .
          </p>
          <p>Installing an operating system onto it for a workstation can erase what is there. Use it only if it is meant for this workstation.</p>
          <div className="actions">
            <button type="button" onClick={() => confirmChoice(false)} data-testid="confirm-no">
              Cancel
            </button>
            <button type="button" className="danger" onClick={() => confirmChoice(true)} data-testid="confirm-yes">
              Use this disk
            </button>
          </div>
        </div>
      ) : null}

      {t.chosen ? (
        <p className="notice ok" data-testid="chosen-target">
          Workstation disk: <span className="mono">{t.chosen.target}</span> on {t.chosen.portal.address}:{t.chosen.portal.port}, LUN {t.chosen.lun}
          {t.chosen.sizeBytes ? `, ${formatBytes(t.chosen.sizeBytes)}` : ''} ({t.chosen.summary}).
        </p>
      ) : null}
    </section>
  );
}
