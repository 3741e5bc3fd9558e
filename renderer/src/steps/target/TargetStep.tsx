import { ChapFields } from '../../components/ChapFields';
import { ErrorBox } from '../../components/ErrorBox';
import { formatBytes } from '../../components/files';
import { ProgressBar } from '../../components/ProgressBar';
import { useApp } from '../../store/index';
import { preferredPortal, type ProbeState, type TargetSlice } from '../../store/target-slice';
import type { DiscoveredTarget } from '../../../../shared/iscsi';

/** A target's disk as the probe judged it: boots (a disk LUN), none (no disk LUN), or not known yet. */
const diskKind = (st: ProbeState | undefined): 'disk' | 'none' | 'unknown' =>
  st?.status === 'succeeded' && st.result ? (st.result.bootLun !== undefined ? 'disk' : 'none') : 'unknown';

/** Targets in the order to show them: disks that can boot (empty ones first), then the rest. */
function ordered(targets: DiscoveredTarget[], probes: TargetSlice['target']['probes']): DiscoveredTarget[] {
  const rank = (x: DiscoveredTarget) => {
    const st = probes[x.name];
    const k = diskKind(st);
    if (k !== 'disk') return k === 'unknown' ? 2 : 3;
    const r = st!.result!;
    return r.luns.find((l) => l.lun === r.bootLun)?.layout?.verdict === 'empty' ? 0 : 1;
  };
  return targets.map((x, i) => ({ x, i, r: rank(x) })).sort((a, b) => a.r - b.r || a.i - b.i).map((e) => e.x);
}

/** One NAS: the targets that share a set of addresses (a NAS lists every address of its own). */
interface NasGroup {
  addresses: Array<{ address: string; port: number }>;
  targets: DiscoveredTarget[];
}
function byNas(targets: DiscoveredTarget[], prefer: (ps: Array<{ address: string; port: number }>) => { address: string; port: number } | undefined): NasGroup[] {
  const groups = new Map<string, NasGroup>();
  for (const x of targets) {
    const key = x.portals.map((p) => `${p.address}:${p.port}`).sort().join(' ');
    const g = groups.get(key);
    if (g) g.targets.push(x);
    else {
      const first = prefer(x.portals);
      const rest = x.portals.filter((p) => p !== first);
      groups.set(key, { addresses: first ? [first, ...rest] : rest, targets: [x] });
    }
  }
  return [...groups.values()];
}

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

/** One target: its name, its disk, and the action that fits (use it, or check it again with its own CHAP). */
function TargetRow({ x }: { x: DiscoveredTarget }) {
  const t = useApp((s) => s.target);
  const probe = useApp((s) => s.probe);
  const chooseTarget = useApp((s) => s.chooseTarget);
  const setTargetChapFor = useApp((s) => s.setTargetChapFor);
  const st = t.probes[x.name];
  const chosen = t.chosen?.target === x.name;
  const own = t.chaps[x.name];
  // A target that refused the login (or has CHAP of its own) shows its own CHAP fields.
  const showChap = own !== undefined || st?.error?.code === 'AUTH_FAILED';
  return (
    <>
      <tr data-testid="target-row" data-target={x.name} data-status={st?.status ?? 'idle'} data-disk={diskKind(st)} className={chosen ? 'chosen' : undefined}>
        <td className="mono">{x.name}</td>
        <td>
          <ProbeCell state={st} />
          {showChap ? (
            <ChapFields
              title="This target needs CHAP (its own user and secret, set on the NAS for this target)"
              value={own ?? { enabled: false, username: '', secret: '', mutual: false, mutualUsername: '', mutualSecret: '' }}
              onChange={(p) => setTargetChapFor(x.name, p)}
              testId="row-chap"
            />
          ) : null}
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
    </>
  );
}

/** Target step: discover targets on the chosen portals, see each one's disk, choose one. */
export function TargetStep() {
  const t = useApp((s) => s.target);
  const scan = useApp((s) => s.scan);
  const setInitiatorName = useApp((s) => s.setInitiatorName);
  const setChap = useApp((s) => s.setChap);
  const discoverTargets = useApp((s) => s.discoverTargets);
  const confirmChoice = useApp((s) => s.confirmChoice);
  const portals = scan.selected.filter((k) => scan.portals[k]?.iscsi === true);
  const running = t.discover.status === 'running';
  const targets = t.discover.result?.targets ?? [];
  const prefer = (ps: Array<{ address: string; port: number }>) => preferredPortal({ scan }, ps);

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
        <ChapFields
          title="Discovery needs CHAP (the NAS asks for it before it lists its targets; a target's own CHAP is apart)"
          value={t.discoveryChap}
          onChange={(p) => setChap('discoveryChap', p)}
          testId="discovery-chap"
        />
        <ChapFields
          title="Every target needs the same CHAP (a target with CHAP of its own gets its fields in its row)"
          value={t.targetChap}
          onChange={(p) => setChap('targetChap', p)}
          testId="target-chap"
        />
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
          {f.error.code === 'AUTH_FAILED' ? (
            <p className="small" data-testid="discovery-chap-note">
              This portal wants <strong>discovery CHAP</strong> before it lists its targets: tick “Discovery needs CHAP” above and enter the discovery user and
              secret set on the NAS (not a target’s own CHAP).
            </p>
          ) : null}
        </div>
      ))}
      {t.discover.result ? (
        <p className="muted" data-testid="discover-summary">
          {targets.length} target(s) on {t.discover.result.results.length} portal(s).
        </p>
      ) : null}

      {byNas(targets, prefer).map((g) => {
        const shown = ordered(g.targets, t.probes);
        const disks = shown.filter((x) => diskKind(t.probes[x.name]) !== 'none');
        const none = shown.filter((x) => diskKind(t.probes[x.name]) === 'none');
        const [first, ...also] = g.addresses;
        return (
          <div className="nas-group" key={g.addresses.map((a) => `${a.address}:${a.port}`).join(' ')} data-testid="nas-group">
            <h3 data-testid="nas-addresses">
              NAS at {first ? `${first.address}:${first.port}` : '?'}
              {also.length > 0 ? <span className="muted small"> (also {also.map((a) => `${a.address}:${a.port}`).join(', ')})</span> : null}
            </h3>
            {disks.length > 0 ? (
              <table className="portals targets" data-testid="targets">
                <thead>
                  <tr>
                    <th>Target</th>
                    <th>Disk</th>
                    <th />
                  </tr>
                </thead>
                <tbody>
                  {disks.map((x) => (
                    <TargetRow key={x.name} x={x} />
                  ))}
                </tbody>
              </table>
            ) : null}
            {none.length > 0 ? (
              <details className="no-disk" data-testid="no-disk">
                <summary data-testid="no-disk-count">
                  {none.length} {none.length === 1 ? 'target' : 'targets'} without a disk
                </summary>
                <table className="portals targets">
                  <tbody>
                    {none.map((x) => (
                      <TargetRow key={x.name} x={x} />
                    ))}
                  </tbody>
                </table>
              </details>
            ) : null}
          </div>
        );
      })}

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
