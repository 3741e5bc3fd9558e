import { useState } from 'react';
import { installerAdvice } from '../../../../shared/install';
import { iscsiadmHelp } from '../../../../shared/gen/open-iscsi';
import { Project, type Workstation } from '../../../../shared/model/project';
import { ErrorBox } from '../../components/ErrorBox';
import { formatBytes, offerDownload } from '../../components/files';
import { PathField } from '../../components/PathField';
import { ProgressBar } from '../../components/ProgressBar';
import { useApp } from '../../store/index';
import { installStation, type InstallMode } from '../../store/install-slice';

const MODES: Array<{ id: InstallMode; label: string; what: string }> = [
  { id: 'image', label: 'Write an image', what: 'A ready disk image (.img, .raw, a hybrid .iso, .gz/.xz/.zst, qcow2/vmdk…) written onto the disk from here, then read back.' },
  { id: 'linux', label: 'Use my own Linux machine', what: 'Attach the disk with open-iscsi on a Linux machine and run the installer there (the recipe\'s way).' },
];

const MARK = { pass: '✓', warn: '!', fail: '✗' } as const;


/** The Linux help: iscsiadm commands with the project's names; secrets masked unless shown. */
function LinuxHelp({ w }: { w: Workstation }) {
  const p = useApp((s) => s.identity.project);
  const secrets = useApp((s) => s.identity.secrets);
  const [reveal, setReveal] = useState(false);
  const parsed = Project.safeParse(p);
  if (!parsed.success) return <p className="field-error">The project is not complete yet: finish the Identity step first.</p>;
  const help = iscsiadmHelp(parsed.data, w, reveal ? secrets : undefined);
  return (
    <div data-testid="install-linux">
      <p>
        On your Linux machine, these commands attach <span className="mono">{w.target}</span> as {w.name} would (its initiator name {w.initiatorIqn}), so the installer sees it as a local disk. {w.chap ? 'The script asks for the CHAP secret (nothing is echoed).' : ''}
      </p>
      <pre className="mono" data-testid="install-linux-script">{help.script}</pre>
      <div className="actions">
        <button type="button" onClick={() => void navigator.clipboard.writeText(help.script)} data-testid="install-linux-copy">
          Copy
        </button>
        <button type="button" onClick={() => offerDownload(`attach-${w.name}.sh`, 'text/x-shellscript', help.script)} data-testid="install-linux-save">
          Save as attach-{w.name}.sh
        </button>
        {w.chap ? (
          <label>
            <input type="checkbox" checked={reveal} onChange={(e) => setReveal(e.target.checked)} data-testid="install-linux-reveal" /> Fill the CHAP secret in (shows it)
          </label>
        ) : null}
      </div>
      <ul className="small">
        {help.notes.map((n) => (
          <li key={n}>{n}</li>
        ))}
        {installerAdvice(w.initramfs).map((n) => (
          <li key={n}>{n}</li>
        ))}
      </ul>
    </div>
  );
}

/** Write an image: choose it, see what the disk holds, write with progress, verify, findings. */
function WriteImage({ w }: { w: Workstation }) {
  const st = useApp((s) => s.install);
  const ins = useApp((s) => s.installInspect);
  const wr = useApp((s) => s.installWrite);
  const setInstall = useApp((s) => s.setInstall);
  const inspect = useApp((s) => s.inspectInstall);
  const requestWrite = useApp((s) => s.requestWrite);
  const confirmWrite = useApp((s) => s.confirmWrite);
  const cancelWrite = useApp((s) => s.cancelWrite);
  const goTo = useApp((s) => s.goTo);
  const startVerify = useApp((s) => s.startVerify);
  const setVerify = useApp((s) => s.setVerify);
  const busy = ins.status === 'running' || wr.status === 'running';
  const i = ins.result;
  const r = wr.result;
  const why = !st.image.trim() ? 'Choose an image file or paste its URL first.' : i && i.refusals.length > 0 ? i.refusals[0] : wr.status === 'running' ? 'The write is running.' : undefined;
  return (
    <div data-testid="install-image">
      <PathField label="Disk image: a file on this computer, or an http(s) URL" kind="image" value={st.image} placeholder="/home/me/debian-12-nocloud-amd64.raw or https://…/image.img.xz" onChange={(v) => setInstall({ image: v })} testId="install-image-path" />
      <div className="actions">
        <label>
          <input type="checkbox" checked={st.verify} onChange={(e) => setInstall({ verify: e.target.checked })} data-testid="install-verify" /> Read the disk back afterwards and compare (verify)
        </label>
        <label>
          <input type="checkbox" checked={st.sparse} onChange={(e) => setInstall({ sparse: e.target.checked })} data-testid="install-sparse" /> Skip zero runs where the NAS guarantees zeros (thin LUN)
        </label>
      </div>
      <div className="actions">
        <button type="button" disabled={busy || !st.image.trim()} onClick={() => void inspect()} data-testid="install-inspect">
          Check the disk and the image
        </button>
      </div>
      {ins.status === 'running' ? <ProgressBar progress={ins.progress ?? { phase: 'logging in as the workstation' }} /> : null}
      {ins.error ? <ErrorBox error={ins.error} testId="install-inspect-error" /> : null}
      {i ? (
        <dl className="facts" data-testid="install-facts">
          <dt>Disk</dt>
          <dd data-testid="install-disk">
            {i.lun.target} LUN {i.lun.lun}: {formatBytes(i.lun.sizeBytes)} ({i.lun.blocks} blocks of {i.lun.blockSize} bytes){i.lun.thin ? ', thin-provisioned' : ''}
          </dd>
          <dt>It holds</dt>
          <dd data-testid="install-holds">{i.lun.layout.summary}</dd>
          {i.image ? (
            <>
              <dt>Image</dt>
              <dd data-testid="install-image-info">
                {i.image.name}: {i.image.format}
                {i.image.size !== undefined ? `, ${formatBytes(i.image.size)}` : i.image.sizeHint !== undefined ? `, about ${formatBytes(i.image.sizeHint)}` : ', size known once read'}
              </dd>
            </>
          ) : null}
        </dl>
      ) : null}
      {i?.refusals.map((x) => (
        <p key={x} className="field-error" role="alert" data-testid="install-refusal">
          {x}
        </p>
      ))}
      <div className="actions sticky-action">
        <button type="button" className="primary" disabled={busy || !!why} onClick={() => void requestWrite()} data-testid="install-write">
          Write to {w.name}'s disk
        </button>
        {why ? (
          <span className="small muted" data-testid="install-write-why">
            {why}
          </span>
        ) : null}
        {wr.status === 'running' ? (
          <button type="button" onClick={() => void cancelWrite()} data-testid="install-cancel">
            Cancel
          </button>
        ) : null}
      </div>
      {wr.status === 'running' && wr.progress ? <ProgressBar progress={wr.progress} bytes testId="install-progress" /> : null}
      {wr.status === 'cancelled' ? (
        <p className="notice warn" data-testid="install-cancelled">
          Cancelled. {wr.log.at(-1)}
        </p>
      ) : null}
      {wr.error ? <ErrorBox error={wr.error} testId="install-write-error" /> : null}
      {st.confirming && i ? (
        <div className="dialog" role="alertdialog" aria-modal="true" aria-labelledby="install-confirm-title" data-testid="install-confirm">
          <h3 id="install-confirm-title">Overwrite {w.name}'s disk?</h3>
          <p>
            <span className="mono">{i.lun.target}</span> LUN {i.lun.lun} already holds: <strong>{i.lun.layout.summary}</strong>. Writing {i.image?.name ?? 'the image'} replaces everything on it.
          </p>
          <div className="actions">
            <button type="button" autoFocus onClick={() => void confirmWrite(false)} data-testid="install-confirm-no">
              Keep the disk
            </button>
            <button type="button" className="danger" onClick={() => void confirmWrite(true)} data-testid="install-confirm-yes">
              Overwrite it
            </button>
          </div>
        </div>
      ) : null}
      {r ? (
        <div className={`details ${r.ok ? 'pass' : 'fail'}`} data-testid="install-result">
          <h3>{r.ok ? `✓ ${w.name}'s disk is ready` : `${w.name} cannot boot this disk yet`}</h3>
          <p data-testid="install-summary">
            Wrote {r.image.name} ({formatBytes(r.imageBytes)}) in {(r.durationMs / 1000).toFixed(1)} s, {r.mibPerSec.toFixed(1)} MiB/s
            {r.bytesSkipped > 0 ? `; ${formatBytes(r.bytesSkipped)} of zero runs skipped (thin LUN)` : ''}.
          </p>
          <p data-testid="install-verified">{r.verify ? (r.verify.ok ? `Verified: the disk reads back exactly the image (sha256 ${r.verify.sha256.slice(0, 16)}…).` : `The disk does NOT read back as written: first difference at byte ${r.verify.mismatchAt}.`) : 'Not verified (read-back was off).'}</p>
          <ul data-testid="install-findings">
            {r.findings.map((f) => (
              <li key={f.summary} className={f.status} data-testid={`finding-${f.status}`}>
                {MARK[f.status]} {f.summary}
                {f.fix && f.status !== 'pass' ? <div className="hint">Fix: {f.fix}</div> : null}
              </li>
            ))}
          </ul>
          {r.ok ? (
            <button
              type="button"
              className="primary"
              onClick={() => {
                setVerify({ station: w.name });
                goTo('verify');
                void startVerify();
              }}
              data-testid="install-verify-chain"
            >
              Verify the boot chain again
            </button>
          ) : null}
        </div>
      ) : null}
      {wr.log.length > 0 && wr.status !== 'idle' ? (
        <details>
          <summary>Log</summary>
          <pre className="mono small" data-testid="install-log">{wr.log.join('\n')}</pre>
        </details>
      ) : null}
    </div>
  );
}

/** Install step: put the OS onto the workstation's iSCSI disk. */
export function InstallStep() {
  const p = useApp((s) => s.identity.project);
  const station = useApp(installStation);
  const mode = useApp((s) => s.install.mode);
  const setInstall = useApp((s) => s.setInstall);
  const ws = (p.workstations ?? []) as Workstation[];
  const w = ws.find((x) => x.name === station);
  return (
    <section className="step" data-testid="step-install">
      <h2>Put the OS on the disk</h2>
      <p className="muted">Bootchain logs in to the NAS as the workstation (its initiator name and CHAP) and touches only the disk the project gives it.</p>
      {ws.length > 1 ? (
        <label>
          Workstation
          <select value={station} onChange={(e) => setInstall({ station: e.target.value })} data-testid="install-station">
            {ws.map((x) => (
              <option key={x.name} value={x.name}>
                {x.name} ({x.firmware === 'uefi' ? 'UEFI' : 'BIOS'}) — {x.target} LUN {x.lun}
              </option>
            ))}
          </select>
        </label>
      ) : null}
      {!w ? (
        <p className="field-error">Add a workstation in the Identity step first.</p>
      ) : (
        <>
          <fieldset className="modes" data-testid="install-modes">
            <legend>How</legend>
            {MODES.map((m) => (
              <label key={m.id}>
                <input type="radio" name="install-mode" checked={mode === m.id} onChange={() => setInstall({ mode: m.id })} data-testid={`install-mode-${m.id}`} /> <strong>{m.label}</strong> <span className="small muted">{m.what}</span>
              </label>
            ))}
          </fieldset>
          <p className="small muted" data-testid="install-firmware">
            {w.name} boots by {w.firmware === 'uefi' ? `UEFI: the image needs a GPT with an EFI system partition holding ${w.uefiFilename ?? '\\EFI\\BOOT\\BOOTX64.EFI'}` : 'BIOS: the image needs boot code in its first sector (an MBR or hybrid image)'}.
          </p>
          {mode === 'linux' ? <LinuxHelp w={w} /> : <WriteImage w={w} />}
        </>
      )}
    </section>
  );
}
