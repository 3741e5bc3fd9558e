import { useEffect } from 'react';
import type { BuildTargetName } from '../../../../shared/build';
import { ErrorBox } from '../../components/ErrorBox';
import { LogBox } from '../../components/LogBox';
import { ProgressBar } from '../../components/ProgressBar';
import { useApp } from '../../store/index';
import { unverifiedArtifacts } from '../registry';

const TARGETS: Array<[BuildTargetName, string]> = [
  ['bios', 'BIOS: undionly.kpxe (the recipe)'],
  ['uefi', 'UEFI: snponly.efi (uses the firmware\'s network driver)'],
  ['ipxe-efi', 'UEFI: ipxe.efi (iPXE\'s own drivers)'],
];

/** Build step: build iPXE with the embedded script, or choose stock iPXE. */
export function BuildStep() {
  const b = useApp((s) => s.build);
  const setBuild = useApp((s) => s.setBuild);
  const loadEngines = useApp((s) => s.loadEngines);
  const startBuild = useApp((s) => s.startBuild);
  const cancelBuild = useApp((s) => s.cancelBuild);
  useEffect(() => {
    void loadEngines();
  }, [loadEngines]);
  const running = b.status === 'running';
  const unverified = unverifiedArtifacts(b);
  return (
    <section className="step" data-testid="step-build">
      <h2>Build iPXE with the embedded script</h2>
      <p className="lead">
        The embedded script makes the chainloaded iPXE skip asking DHCP for itself again — the classic boot loop. Bootchain builds it in a
        container (or with the compilers on this computer) and checks that the script really is inside.
      </p>
      <div className="engines" data-testid="engines">
        {b.engines.map((e) => (
          <div key={e.kind} className="small" data-testid={`engine-${e.kind}`}>
            <span className={e.available ? 'badge ok' : 'badge warn'}>{e.kind}</span> {e.available ? `ready ${e.version ?? ''}` : e.problem}
          </div>
        ))}
      </div>
      <div className="grid2">
        <label>
          Build with
          <select value={b.engine} onChange={(e) => setBuild({ engine: e.target.value as typeof b.engine })} data-testid="build-engine">
            <option value="auto">the first that works</option>
            <option value="podman">podman (bundled container)</option>
            <option value="docker">docker (bundled container)</option>
            <option value="local">this computer's compilers</option>
          </select>
        </label>
        <label>
          iPXE source
          <select value={b.sourceKind} onChange={(e) => setBuild({ sourceKind: e.target.value as typeof b.sourceKind })} data-testid="build-source-kind">
            <option value="release">iPXE v2.0.0, downloaded and verified</option>
            <option value="dir">a folder on this computer</option>
            <option value="tarball">a tarball on this computer</option>
          </select>
        </label>
        {b.sourceKind !== 'release' ? (
          <label className="wide">
            Path
            <input value={b.sourcePath} placeholder="/home/me/ipxe" onChange={(e) => setBuild({ sourcePath: e.target.value })} data-testid="build-source-path" />
          </label>
        ) : null}
      </div>
      <fieldset className="chap">
        {TARGETS.map(([t, label]) => (
          <label className="inline" key={t}>
            <input
              type="checkbox"
              checked={b.targets.includes(t)}
              onChange={(e) => setBuild({ targets: e.target.checked ? [...b.targets, t] : b.targets.filter((x) => x !== t) })}
              data-testid={`build-target-${t}`}
            />
            {label}
          </label>
        ))}
        <label className="inline">
          <input type="checkbox" checked={b.serialConsole} onChange={(e) => setBuild({ serialConsole: e.target.checked })} />
          Console on the serial port too
        </label>
        <label className="inline">
          <input type="checkbox" checked={b.https} onChange={(e) => setBuild({ https: e.target.checked })} />
          HTTPS downloads
        </label>
      </fieldset>
      <div className="actions">
        <button type="button" className="primary" disabled={running || b.targets.length === 0} onClick={() => void startBuild()} data-testid="build-start">
          {running ? 'Building…' : 'Build'}
        </button>
        {running ? (
          <button type="button" onClick={() => void cancelBuild()} data-testid="build-cancel">
            Cancel
          </button>
        ) : null}
      </div>
      {running && b.progress ? <ProgressBar progress={b.progress} /> : null}
      {b.error ? <ErrorBox error={b.error} testId="build-error" /> : null}
      {b.status === 'cancelled' ? <p className="notice" data-testid="build-cancelled">Build cancelled: the output folder was left as it was.</p> : null}
      {b.result ? (
        <div data-testid="build-result">
          <p>
            {b.result.kind === 'full' ? 'Built' : 'Relinked (only the script changed)'} with {b.result.engine} from {b.result.version} in{' '}
            {(b.result.durationMs / 1000).toFixed(1)} s, into <span className="mono">{b.result.outDir}</span>.
          </p>
          <table className="portals">
            <tbody>
              {b.result.artifacts.map((a) => (
                <tr key={a.file} data-testid="artifact">
                  <td className="mono">{a.file}</td>
                  <td>{a.size} bytes</td>
                  <td className="mono small">{a.sha256.slice(0, 16)}…</td>
                  <td>{a.embeddedVerified ? <span className="badge ok">embedded script verified</span> : <span className="badge warn">embedded script differs</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
      {unverified.length > 0 ? (
        <ErrorBox
          testId="build-readback-error"
          error={{
            code: 'COMMAND_FAILED',
            message: `The script asked for is not inside ${unverified.join(', ')}: iPXE was built, but Bootchain cannot find its embedded script in it byte for byte, so it cannot promise this binary runs your boot chain.`,
            hint: 'Build again. If it happens again, the iPXE source handles EMBED differently from the pinned release: build from the pinned release, or tick "Use stock iPXE binaries" below (the generated DHCP config keeps stock iPXE from looping). The build log says which file and where it looked.',
            retryable: true,
          }}
        />
      ) : null}
      <LogBox title="Build log" lines={b.log} testId="build-log" />
      <div className="notice small">
        <strong>No build needed?</strong> Stock iPXE works too: the generated DHCP configs hand any iPXE <span className="mono">default.ipxe</span>{' '}
        instead of iPXE again, so it cannot loop. With UEFI Secure Boot, a self-built iPXE cannot be signed: use the signed iPXE shim and
        ipxe.efi with the generated autoexec.ipxe (Identity step files) beside them.
        <label className="inline">
          <input type="checkbox" checked={b.noBuild} onChange={(e) => setBuild({ noBuild: e.target.checked })} data-testid="build-skip" />
          Use stock iPXE binaries (no build)
        </label>
      </div>
    </section>
  );
}
