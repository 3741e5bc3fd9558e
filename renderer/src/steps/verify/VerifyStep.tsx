import { useEffect } from 'react';
import { CHAIN_LINKS, reportMarkdown, type LinkId } from '../../../../shared/verify';
import { ErrorBox } from '../../components/ErrorBox';
import { offerDownload } from '../../components/files';
import { LogBox } from '../../components/LogBox';
import { useApp } from '../../store/index';
import { ChainPicture } from './ChainPicture';
import { VmBoot } from './VmBoot';
import { WatchPanel } from './WatchPanel';
import { Rights } from '../../components/Rights';
import { ServeTimeline } from '../upload/ServePanel';
import { diskIsAllThatIsMissing } from '../registry';

/** Every link up to the disk holds and only the disk fails: the way to the Install step. */
function InstallOffer() {
  const r = useApp((s) => s.verify.result);
  const goTo = useApp((s) => s.goTo);
  if (!diskIsAllThatIsMissing(r)) return null;
  return (
    <div className="notice" data-testid="verify-install-offer">
      Every link up to the disk holds: what is missing is a bootable OS on {r!.station}'s disk.{' '}
      <button type="button" className="primary" onClick={() => goTo('install')} data-testid="verify-go-install">
        Put the OS on the disk
      </button>
    </div>
  );
}

/**
 * Verify step (in the wizard) and Diagnostics view (any time, on a saved project): walk one
 * workstation's boot chain against the live servers, draw it, and show each link's evidence and fix.
 */
function ChainCheck({ diagnostics }: { diagnostics: boolean }) {
  const v = useApp((s) => s.verify);
  const project = useApp((s) => s.identity.project) as { name?: string; workstations?: Array<{ name: string; mac: string; firmware: string }> };
  const saved = useApp((s) => s.identity.saved);
  const listProjects = useApp((s) => s.listProjects);
  const openProject = useApp((s) => s.openProject);
  const setVerify = useApp((s) => s.setVerify);
  const startVerify = useApp((s) => s.startVerify);
  const cancelVerify = useApp((s) => s.cancelVerify);
  // This computer's interfaces (the same list "Serve from this computer" offers).
  const interfaces = useApp((s) => s.serve.interfaces);
  const loadInterfaces = useApp((s) => s.loadServeInterfaces);
  useEffect(() => {
    if (diagnostics) void listProjects();
  }, [diagnostics, listProjects]);
  useEffect(() => {
    void loadInterfaces();
  }, [loadInterfaces]);
  const stations = project.workstations ?? [];
  const running = v.status === 'running';
  const sel = v.selected === 'identity' ? (v.result ? { title: 'Identity', ...v.result.identity } : undefined) : v.links[v.selected as LinkId];
  const selDef = CHAIN_LINKS.find((l) => l.id === v.selected);
  return (
    <section className="step" data-testid={diagnostics ? 'view-diagnostics' : 'step-verify'}>
      <h2>{diagnostics ? 'Diagnostics: where does the boot break?' : 'Verify the boot chain'}</h2>
      <p className="lead">
        Bootchain plays the workstation: it asks DHCP as its firmware and as iPXE (nothing is leased), loads the boot file over TFTP,
        runs the scripts with its MAC, logs in to the NAS as its initiator and reads the boot sector. Each link shows what was sent and
        received, and what to do when it breaks.
      </p>
      {diagnostics ? (
        <div className="grid2">
          <label>
            Saved project
            <select value="" onChange={(e) => e.target.value && void openProject(e.target.value)} data-testid="diag-project">
              <option value="">{project.name ? `${project.name} (open)` : 'choose…'}</option>
              {saved.map((p) => (
                <option key={p.name} value={p.name}>
                  {p.name}
                </option>
              ))}
            </select>
          </label>
        </div>
      ) : null}
      <div className="grid2">
        <label>
          Workstation
          <select value={v.station || stations[0]?.name || ''} onChange={(e) => setVerify({ station: e.target.value })} data-testid="verify-station">
            {stations.map((w) => (
              <option key={w.name} value={w.name}>
                {w.name} ({w.mac}, {w.firmware.toUpperCase()})
              </option>
            ))}
          </select>
        </label>
        <label className="inline">
          <input type="checkbox" checked={v.dhcp} onChange={(e) => setVerify({ dhcp: e.target.checked })} data-testid="verify-dhcp" />
          Probe DHCP (needs the right to use UDP port 68)
        </label>
        <label>
          Interface (on the workstations' network)
          <select value={v.interface} disabled={!v.dhcp} onChange={(e) => setVerify({ interface: e.target.value })} data-testid="verify-interface" title="DHCP DISCOVERs go to this interface's subnet broadcast address; needed on a computer with several networks, or without a default route.">
            <option value="">any (the default route)</option>
            {interfaces.map((i) => (
              <option key={i.name} value={i.name}>
                {i.name} ({i.subnets.map((x) => `${x.address}/${x.prefix}`).join(', ')})
              </option>
            ))}
          </select>
        </label>
        <label className="wide">
          Kernel command line in use (optional; default: the generated one)
          <input value={v.kernelCmdline} placeholder="root=… ip=dhcp iscsi_target=…" onChange={(e) => setVerify({ kernelCmdline: e.target.value })} data-testid="verify-kernel" />
        </label>
      </div>
      <div className="actions">
        <button type="button" className="primary" disabled={running || stations.length === 0} onClick={() => void startVerify(false)} data-testid="verify-start">
          {running ? 'Checking…' : v.result ? 'Check again' : 'Check the chain'}
        </button>
        {running ? (
          <button type="button" onClick={() => void cancelVerify()} data-testid="verify-cancel">
            Cancel
          </button>
        ) : null}
        {v.result ? (
          <>
            <button type="button" onClick={() => offerDownload(`bootchain-${v.result!.station}.md`, 'text/markdown', reportMarkdown(v.result!))} data-testid="verify-export-md">
              Export report (Markdown)
            </button>
            <button type="button" onClick={() => offerDownload(`bootchain-${v.result!.station}.json`, 'application/json', JSON.stringify(v.result, null, 2))} data-testid="verify-export-json">
              Export (JSON)
            </button>
          </>
        ) : null}
      </div>
      {stations.length === 0 ? <p className="notice">The project has no workstation yet: add one in the Identity step{diagnostics ? ', or open a saved project' : ''}.</p> : null}
      {v.error ? <ErrorBox error={v.error} testId="verify-error" /> : null}
      <ChainPicture links={v.links} running={running} selected={v.selected} onSelect={(id) => setVerify({ selected: id })} />
      {v.result ? (
        <p data-testid="verify-summary" className={v.result.ok ? 'ok' : 'bad'}>
          {v.result.ok ? (
            <>
              <span className="badge ok">every link holds</span> {v.result.station} should boot ({v.result.durationMs} ms).
            </>
          ) : (
            <>
              <span className="badge warn">broken</span> The boot of {v.result.station} stops at{' '}
              <strong>{CHAIN_LINKS.find((l) => l.id === v.result!.firstBroken)?.title ?? 'the identity check'}</strong>.
            </>
          )}{' '}
          <button type="button" className="linklike" onClick={() => setVerify({ selected: 'identity' })} data-testid="identity-node" data-status={v.result.identity.status}>
            Identity: {v.result.identity.status}
          </button>
        </p>
      ) : null}
      {!diagnostics ? <InstallOffer /> : null}
      {sel ? (
        <div className={`details ${sel.status}`} data-testid="link-details">
          <h3>
            {sel.title}: <span data-testid="link-status">{sel.status}</span>
          </h3>
          {selDef ? <p className="small">{selDef.what}.</p> : null}
          <p data-testid="link-summary">{sel.summary}</p>
          {sel.fix && sel.status !== 'pass' ? (
            <p className="fix" data-testid="link-fix">
              <strong>Fix:</strong> {sel.fix}
            </p>
          ) : null}
          {sel.evidence.length > 0 ? <pre data-testid="link-evidence">{sel.evidence.join('\n')}</pre> : null}
          <button type="button" disabled={running} onClick={() => void startVerify(true)} data-testid="link-recheck" title="Each link needs the answers of the ones before it, so the chain is walked again up to this one (about a second).">
            Re-check {sel.title}
          </button>
        </div>
      ) : null}
      <LogBox title="Verify log" lines={v.log} testId="verify-log" />
      <Rights />
      {stations.length > 0 ? <VmBoot /> : null}
      {diagnostics && stations.length > 0 ? <WatchPanel /> : null}
      {diagnostics ? (
        <div data-testid="diag-timeline">
          <ServeTimeline limit={50} />
        </div>
      ) : null}
    </section>
  );
}

export const VerifyStep = () => <ChainCheck diagnostics={false} />;
export const DiagnosticsView = () => <ChainCheck diagnostics />;
