import { useEffect } from 'react';
import { markerLines } from '../../../../shared/gen/ipxe';
import { CHAIN_LINKS, type LinkId } from '../../../../shared/verify';
import { WATCH_STAGES, WATCH_SOURCES, verdictOf, watchMarkdown, type StationTimeline, type WatchSource } from '../../../../shared/watch';
import { ErrorBox } from '../../components/ErrorBox';
import { offerDownload } from '../../components/files';
import { LogBox } from '../../components/LogBox';
import { useApp } from '../../store/index';
import { DEFAULT_MARKERS_PORT, markersOf, uploadNasLogin } from '../../store/watch-slice';
import { ChainPicture, type NodeState } from './ChainPicture';

/** What each source is called on screen. */
const SOURCE_NAMES: Record<WatchSource, string> = { bootserver: 'Boot server', marker: 'Stage markers', syslog: "iPXE's syslog", dhcp: 'DHCP', nas: 'NAS sessions' };
/** The chain picture's words when it shows a watched boot rather than Verify's walk. */
const WATCH_LABELS: Partial<Record<NodeState, string>> = { pass: 'reached', fail: 'stopped here', skip: 'passed (not seen)', pending: 'waiting…', idle: 'not yet' };
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const linkTitle = (id: LinkId) => CHAIN_LINKS.find((l) => l.id === id)?.title ?? id;

/**
 * The picture's nodes from a timeline: a link whose stage was seen is reached; a link before the
 * last reached one that no source saw was passed all the same (grey); the stop point is red.
 */
export function watchLinks(t: StationTimeline): Partial<Record<LinkId, { status: 'pass' | 'fail' | 'skip' }>> {
  const out: Partial<Record<LinkId, { status: 'pass' | 'fail' | 'skip' }>> = {};
  const seen = new Set(t.stages.map((s) => WATCH_STAGES.find((x) => x.id === s.id)!.link as LinkId));
  const order = CHAIN_LINKS.map((l) => l.id as LinkId);
  const last = Math.max(-1, ...[...seen].map((l) => order.indexOf(l)), t.stopped ? order.indexOf(t.stopped.link) : -1);
  order.forEach((l, i) => {
    if (seen.has(l)) out[l] = { status: 'pass' };
    else if (i < last) out[l] = { status: 'skip' };
  });
  if (t.stopped) out[t.stopped.link] = { status: 'fail' };
  return out;
}

/** A stage's row: reached (with time, source and evidence), the stop point, or not seen. */
function StageRow({ t, id, what }: { t: StationTimeline; id: string; what: string }) {
  const seen = t.stages.find((s) => s.id === id);
  const state = seen ? 'reached' : t.stopped?.stage === id ? 'stopped' : 'idle';
  return (
    <li className={`watch-stage ${state}`} data-testid={`watch-stage-${t.station}-${id}`} data-state={state}>
      <span className="watch-mark" aria-hidden="true">
        {state === 'reached' ? '✓' : state === 'stopped' ? '✗' : '·'}
      </span>{' '}
      <strong>{what}</strong>
      {seen ? (
        <>
          {' '}
          <span className="muted">
            at {secs(seen.at)} ({SOURCE_NAMES[seen.source]})
          </span>
          : <span className="small">{seen.evidence}</span>
        </>
      ) : state === 'stopped' ? (
        <> — stopped here: {t.stopped!.why}</>
      ) : (
        <span className="muted"> — not seen</span>
      )}
    </li>
  );
}

/** One workstation: its verdict, the picture lit by its stages, the stop point with the check's fix, the stage list. */
function StationWatch({ t, running }: { t: StationTimeline; running: boolean }) {
  const selected = useApp((s) => s.watch.selected[t.station] ?? '');
  const setWatch = useApp((s) => s.setWatch);
  const all = useApp((s) => s.watch.selected);
  const v = verdictOf(t);
  const sel = CHAIN_LINKS.find((l) => l.id === selected);
  const selStages = sel ? WATCH_STAGES.filter((s) => s.link === sel.id) : [];
  return (
    <div className="watch-station" data-testid={`watch-station-${t.station}`} data-verdict={v}>
      <h4>
        {t.station} ({t.mac}):{' '}
        <span className={`badge ${v === 'booted' ? 'ok' : v === 'stopped' ? 'warn' : ''}`} data-testid={`watch-verdict-${t.station}`}>
          {v === 'booted' ? 'booted' : v === 'stopped' ? 'stopped' : v === 'watching' ? 'booting…' : 'not seen yet'}
        </span>
      </h4>
      <ChainPicture
        links={watchLinks(t)}
        running={running && v === 'watching'}
        selected={selected}
        onSelect={(id) => setWatch({ selected: { ...all, [t.station]: id } })}
        idPrefix={`watch-node-${t.station}`}
        labels={WATCH_LABELS}
        title={`The boot chain of ${t.station} as watched`}
      />
      {t.stopped ? (
        <div className="details fail" data-testid={`watch-stopped-${t.station}`} role="alert">
          <h5>
            Stopped at {linkTitle(t.stopped.link)}: {t.stopped.why}
          </h5>
          <p className="small muted">
            The stage it did not get past: {WATCH_STAGES.find((s) => s.id === t.stopped!.stage)?.what} ({secs(t.stopped.at)} after the watch started).
          </p>
          {t.stopped.check ? (
            <>
              <p data-testid={`watch-check-${t.station}`}>
                Verify's check of {linkTitle(t.stopped.check.link)}: <strong>{t.stopped.check.status}</strong> — {t.stopped.check.summary}
              </p>
              {t.stopped.check.fix ? (
                <p className="fix" data-testid={`watch-fix-${t.station}`}>
                  <strong>Fix:</strong> {t.stopped.check.fix}
                </p>
              ) : null}
            </>
          ) : running ? (
            <p className="small muted">Running Verify's check of this link…</p>
          ) : null}
        </div>
      ) : null}
      {sel ? (
        <p className="small" data-testid={`watch-selected-${t.station}`}>
          {sel.title}: {sel.what}.{' '}
          {selStages.map((s) => {
            const seen = t.stages.find((x) => x.id === s.id);
            return <span key={s.id}>{seen ? `${s.what}: seen at ${secs(seen.at)}. ` : `${s.what}: not seen. `}</span>;
          })}
        </p>
      ) : null}
      <ol className="watch-stages" aria-label={`Stages of ${t.station}'s boot`}>
        {WATCH_STAGES.map((s) => (
          <StageRow key={s.id} t={t} id={s.id} what={s.what} />
        ))}
      </ol>
    </div>
  );
}

/** The options: which workstations, where the scripts report to, which sources. */
function WatchOptions({ running }: { running: boolean }) {
  const w = useApp((s) => s.watch);
  const project = useApp((s) => s.identity.project) as { workstations?: Array<{ name: string; mac: string }>; boot?: { watch?: { syslog?: string } } };
  const interfaces = useApp((s) => s.serve.interfaces);
  // Derived values are computed from selected state: a selector returning a new object each time re-renders forever.
  const markers = markersOf(useApp((s) => s.identity.project));
  const login = uploadNasLogin(useApp((s) => s.upload.server));
  const setWatch = useApp((s) => s.setWatch);
  const setMarkers = useApp((s) => s.setWatchMarkers);
  const setSyslogTarget = useApp((s) => s.setWatchSyslogTarget);
  const stations = project.workstations ?? [];
  const syslogAt = project.boot?.watch?.syslog;
  const address = w.address || markers?.address || interfaces[0]?.subnets[0]?.address || '';
  const port = markers?.port ?? w.markersPort;
  const addresses = interfaces.flatMap((i) => i.subnets.map((sub) => ({ address: sub.address, label: `${sub.address} (${i.name})` })));
  // The project's address may be one this computer does not have (set elsewhere): keep it visible.
  if (address && !addresses.some((a) => a.address === address)) addresses.unshift({ address, label: `${address} (not an address of this computer)` });
  const toggle = (name: string, on: boolean) => setWatch({ skip: on ? w.skip.filter((n) => n !== name) : [...w.skip, name] });
  const watched = (name: string) => !w.skip.includes(name);
  return (
    <>
      <fieldset className="watch-stations" disabled={running}>
        <legend>Workstations to watch</legend>
        {stations.map((x) => (
          <label key={x.name} className="inline">
            <input type="checkbox" checked={watched(x.name)} onChange={(e) => toggle(x.name, e.target.checked)} data-testid={`watch-station-pick-${x.name}`} />
            {x.name} ({x.mac})
          </label>
        ))}
        {stations.every((x) => w.skip.includes(x.name)) ? <span className="small muted"> Choose at least one.</span> : null}
      </fieldset>
      <fieldset className="watch-report" disabled={running}>
        <legend>What the boot reports</legend>
        <label className="inline">
          <input type="checkbox" checked={!!markers} onChange={(e) => setMarkers(e.target.checked)} data-testid="watch-markers-toggle" disabled={!address} />
          Report progress from the scripts (each stage fetches a tiny URL from this computer; a failed fetch never stops the boot)
        </label>
        <div className="grid2">
          <label>
            This computer's address (on the workstations' network)
            <select value={address} onChange={(e) => setWatch({ address: e.target.value })} data-testid="watch-address">
              {addresses.length === 0 ? <option value="">no network address found</option> : null}
              {addresses.map((a) => (
                <option key={a.address} value={a.address}>
                  {a.label}
                </option>
              ))}
            </select>
          </label>
          <label>
            Markers port (HTTP; {DEFAULT_MARKERS_PORT} is the built-in boot server's, so markers arrive through it while it serves)
            <input inputMode="numeric" value={port} onChange={(e) => setWatch({ markersPort: e.target.value.replace(/\D/g, '') })} data-testid="watch-markers-port" />
          </label>
        </div>
        <p className="small" data-testid="watch-markers-note">
          {markers ? (
            <>
              The scripts report to <code>http://{markers.address}:{markers.port}</code>, with a line like{' '}
              <code data-testid="watch-markers-line">{markerLines(`http://${markers.address}:${markers.port}`, 'default')[0]}</code> at each stage.{' '}
            </>
          ) : (
            'The scripts report nothing themselves: the watch sees only DHCP, the boot server and the NAS. '
          )}
          <strong>Upload again so the scripts carry it</strong> (and save the project in the Identity step to keep the setting).
        </p>
        <label className="inline">
          <input type="checkbox" checked={!!syslogAt} onChange={(e) => setSyslogTarget(e.target.checked)} data-testid="watch-syslog-target" disabled={!address} />
          Send iPXE's console lines to this computer (syslog; needs an iPXE built with the syslog console — Debian's and the NIC ROMs' have none)
        </label>
      </fieldset>
      <fieldset className="watch-sources-pick" disabled={running}>
        <legend>What this computer listens to</legend>
        <label className="inline">
          <input type="checkbox" checked={w.syslog && !!syslogAt} disabled={!syslogAt} onChange={(e) => setWatch({ syslog: e.target.checked })} data-testid="watch-syslog" />
          {syslogAt ? `iPXE's syslog on ${syslogAt}:514 (the project's receiver; port 514 needs "Ports below 1024")` : "iPXE's syslog: none (the project's scripts set no syslog address)"}
        </label>
        <label className="inline">
          <input type="checkbox" checked={w.dhcp} onChange={(e) => setWatch({ dhcp: e.target.checked })} data-testid="watch-dhcp" />
          The workstations' DHCP broadcasts (UDP port 67; needs "Ports below 1024")
        </label>
        <p className="small" data-testid="watch-nas-note">
          {login ? `NAS sessions: polled over SSH as ${login.who} (the Upload step's login)` : 'NAS sessions: not polled (no SSH login in the Upload step)'}
        </p>
        <div className="grid2">
          <label>
            A boot with nothing new for this long has stopped (seconds)
            <input inputMode="numeric" value={w.stallSeconds} onChange={(e) => setWatch({ stallSeconds: e.target.value.replace(/\D/g, '') })} data-testid="watch-stall" />
          </label>
          <label>
            Watch at most (minutes)
            <input inputMode="numeric" value={w.minutes} onChange={(e) => setWatch({ minutes: e.target.value.replace(/\D/g, '') })} data-testid="watch-minutes" />
          </label>
        </div>
      </fieldset>
    </>
  );
}

/**
 * Diagnostics' "Watch a boot" (issue 19): the user powers the real workstation on and the chain
 * picture lights up as its stages arrive from every source; a boot that errs or stalls shows where
 * it stopped, why, and Verify's check of that link with its fix. Stop ends the watch with its
 * report (Markdown or JSON to save); Cancel ends it without one.
 */
export function WatchPanel() {
  const w = useApp((s) => s.watch);
  const watchable = useApp((s) => ((s.identity.project as { workstations?: Array<{ name: string }> }).workstations ?? []).filter((x) => !s.watch.skip.includes(x.name)).length);
  const start = useApp((s) => s.startWatch);
  const stop = useApp((s) => s.stopWatch);
  const cancel = useApp((s) => s.cancelWatch);
  const loadInterfaces = useApp((s) => s.loadServeInterfaces);
  useEffect(() => {
    void loadInterfaces();
  }, [loadInterfaces]);
  const running = w.status === 'running';
  const report = w.result;
  const timelines = Object.values(w.timelines);
  const name = report?.project ?? 'boot';
  return (
    <section className="watch" data-testid="watch-panel" aria-labelledby="watch-title">
      <h3 id="watch-title">Watch a boot</h3>
      <p className="lead">
        Start watching, then power the workstation on: each stage lights up as Bootchain sees it (DHCP broadcasts, the scripts' own
        reports, the boot server, iPXE's syslog, the NAS's sessions). When the boot stops, the watch says where and why, and runs
        Verify's check of that link for the fix.
      </p>
      <WatchOptions running={running} />
      <div className="actions">
        <button type="button" className="primary" disabled={running || watchable === 0} onClick={() => void start()} data-testid="watch-start">
          {running ? 'Watching…' : report ? 'Watch again' : 'Start watching'}
        </button>
        {running ? (
          <>
            <button type="button" disabled={w.stopping} onClick={() => void stop()} data-testid="watch-stop">
              {w.stopping ? 'Stopping…' : 'Stop watching'}
            </button>
            <button type="button" onClick={() => void cancel()} data-testid="watch-cancel">
              Cancel
            </button>
          </>
        ) : null}
        {report ? (
          <>
            <button type="button" onClick={() => offerDownload(`bootchain-watch-${name}.md`, 'text/markdown', watchMarkdown(report))} data-testid="watch-export-md">
              Save as Markdown
            </button>
            <button type="button" onClick={() => offerDownload(`bootchain-watch-${name}.json`, 'application/json', JSON.stringify(report, null, 2))} data-testid="watch-export-json">
              Save as JSON
            </button>
          </>
        ) : null}
      </div>
      <p className="small muted" role="status" aria-live="polite" data-testid="watch-status">
        {running
          ? (w.progress?.phase ?? 'Starting the sources…')
          : report
            ? `The watch ended (${report.ended === 'all-done' ? 'every workstation finished' : report.ended === 'timeout' ? 'the time ran out' : 'stopped'}) after ${secs(report.durationMs)}.`
            : w.status === 'cancelled'
              ? 'The watch was cancelled (no report).'
              : ''}
      </p>
      {w.error ? <ErrorBox error={w.error} testId="watch-error" /> : null}
      {Object.keys(w.sources).length > 0 ? (
        <ul className="watch-sources" aria-label="Sources">
          {WATCH_SOURCES.filter((s) => w.sources[s]).map((s) => {
            const x = w.sources[s]!;
            return (
              <li key={s} className={`watch-source ${x.state}`} data-testid={`watch-source-${s}`} data-state={x.state}>
                <strong>{SOURCE_NAMES[s]}:</strong> {x.state}: {x.detail}
              </li>
            );
          })}
        </ul>
      ) : null}
      {timelines.map((t) => (
        <StationWatch key={t.station} t={t} running={running} />
      ))}
      {w.events.length > 0 ? (
        <details className="log" open={running}>
          <summary>Evidence ({w.events.length} lines, the last ones)</summary>
          <pre data-testid="watch-evidence">
            {w.events.map((e) => `${secs(e.at).padStart(8)}  ${e.source.padEnd(10)} ${e.station ? `${e.station}: ` : ''}${e.evidence}`).join('\n')}
          </pre>
        </details>
      ) : null}
      <LogBox title="Watch log" lines={w.log} testId="watch-log" />
    </section>
  );
}
