import { useEffect } from 'react';
import { containerReady, DEFAULT_BUILD_BASE, STOCK_IPXE, BUILD_TARGET_NAMES, type BuildTargetName, type EngineInfo } from '../../../../shared/build';
import { ErrorBox } from '../../components/ErrorBox';
import { LogBox } from '../../components/LogBox';
import { ProgressBar } from '../../components/ProgressBar';
import { buildTargets, effectiveEngine } from '../../store/build-slice';
import { useApp } from '../../store/index';
import { PathField } from '../../components/PathField';
import { unverifiedArtifacts } from '../registry';

const TARGETS: Array<[BuildTargetName, string]> = [
  ['bios', 'BIOS: undionly.kpxe (the recipe)'],
  ['uefi', 'UEFI: snponly.efi (uses the firmware\'s network driver)'],
  ['ipxe-efi', 'UEFI: ipxe.efi (iPXE\'s own drivers)'],
];

const ENGINE_WORDS: Record<EngineInfo['kind'], string> = { podman: 'podman (bundled container)', docker: 'docker (bundled container)', local: "this computer's compilers" };

/** What "automatic" will use now, in words. */
function automaticWords(b: { engines: EngineInfo[]; base: string }, kind: EngineInfo['kind'] | undefined): string {
  if (b.engines.length === 0) return 'automatic (checking this computer…)';
  if (!kind) return 'automatic: nothing can build here yet';
  return `automatic: ${ENGINE_WORDS[kind]}${kind === 'local' ? '' : ` from ${b.base.trim() || b.engines.find((e) => e.kind === kind)?.base || DEFAULT_BUILD_BASE}`}`;
}

/** Build step: build iPXE with the embedded script, or choose stock iPXE. */
export function BuildStep() {
  const b = useApp((s) => s.build);
  const targets = buildTargets({ build: b, identity: useApp((s) => s.identity) });
  const stations = useApp((s) => s.identity.project.workstations ?? []);
  const setBuild = useApp((s) => s.setBuild);
  const loadEngines = useApp((s) => s.loadEngines);
  const startBuild = useApp((s) => s.startBuild);
  const cancelBuild = useApp((s) => s.cancelBuild);
  useEffect(() => {
    void loadEngines();
  }, [loadEngines]);
  const running = b.status === 'running';
  const unverified = unverifiedArtifacts(b);
  const engine = effectiveEngine(b);
  const containers = b.engines.filter((e) => e.kind !== 'local' && e.available);
  const usesContainer = b.engine === 'podman' || b.engine === 'docker' || (b.engine === 'auto' && containers.length > 0);
  const base = b.base.trim() || undefined;
  const baseEngine = b.engines.find((e) => e.kind === (b.engine === 'docker' ? 'docker' : 'podman') && e.available) ?? containers[0];
  const baseReady = baseEngine ? containerReady(baseEngine, base) : false;
  const uefi = stations.filter((w) => w?.firmware === 'uefi').length;
  const bios = stations.filter((w) => w?.firmware === 'bios').length;
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
            <option value="auto">{automaticWords(b, b.engine === 'auto' ? engine : effectiveEngine({ ...b, engine: 'auto' }))}</option>
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
        {usesContainer ? (
          <label>
            Base image of the build container
            <input
              value={b.base}
              list="build-base-images"
              placeholder={baseEngine?.base ?? DEFAULT_BUILD_BASE}
              onChange={(e) => setBuild({ base: e.target.value })}
              data-testid="build-base"
            />
            <datalist id="build-base-images">
              {(baseEngine?.images ?? []).map((i) => (
                <option key={i} value={i} />
              ))}
            </datalist>
            <span className={baseReady ? 'badge ok' : 'badge warn'} data-testid="build-base-status">
              {baseReady
                ? `${baseEngine?.kind}: ready (the image is on this computer)`
                : `${baseEngine?.kind ?? 'container'}: ${base ? `no image ${base} on this computer` : (baseEngine?.imageProblem ?? 'no base image')}${b.engine === 'auto' ? ', so automatic uses the local compilers' : ''}`}
            </span>
          </label>
        ) : null}
        {b.sourceKind !== 'release' ? (
          <PathField label="Path" kind={b.sourceKind === 'dir' ? 'folder' : 'tarball'} value={b.sourcePath} placeholder="/home/me/ipxe" onChange={(v) => setBuild({ sourcePath: v })} testId="build-source-path" />
        ) : null}
      </div>
      <fieldset className="chap">
        <legend>Targets</legend>
        <p className="small" data-testid="build-targets-why">
          {b.targetsTouched
            ? 'Chosen by you.'
            : `Preselected from your workstations: ${[bios ? `${bios} BIOS (undionly.kpxe)` : '', uefi ? `${uefi} UEFI (snponly.efi)` : ''].filter(Boolean).join(', ') || 'none yet, so BIOS'}.`}
        </p>
        {TARGETS.map(([t, label]) => (
          <label className="inline" key={t}>
            <input
              type="checkbox"
              checked={targets.includes(t)}
              onChange={(e) => setBuild({ targets: e.target.checked ? [...targets, t] : targets.filter((x) => x !== t) })}
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
        <button type="button" className="primary" disabled={running || targets.length === 0 || (b.engine === 'auto' && b.engines.length > 0 && !engine)} onClick={() => void startBuild()} data-testid="build-start">
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
        {b.noBuild ? (
          <div data-testid="build-stock">
            <p>
              Stock iPXE is Debian's and Ubuntu's <span className="mono">ipxe</span> package (<span className="mono">apt install ipxe</span>), no script
              inside. Upload sends these from this computer (where they are installed):
            </p>
            <ul>
              {targets.map((t) => (
                <li key={t} className="mono">
                  {STOCK_IPXE[t]} → {BUILD_TARGET_NAMES[t].split('/')[1]}
                </li>
              ))}
            </ul>
            <p data-testid="build-stock-upload">
              Upload sends the generated scripts (default.ipxe and one per workstation) and these stock binaries under the names the DHCP config
              hands out; one that is not installed here is named in Upload's log, with how to get it.
            </p>
          </div>
        ) : null}
      </div>
    </section>
  );
}
