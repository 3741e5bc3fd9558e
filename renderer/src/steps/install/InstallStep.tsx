import { useState } from 'react';
import { installerAdvice, type InspectResult, type WriteFinding } from '../../../../shared/install';
import { iscsiadmHelp } from '../../../../shared/gen/open-iscsi';
import { Project, type Workstation } from '../../../../shared/model/project';
import { ErrorBox } from '../../components/ErrorBox';
import { formatBytes, offerDownload } from '../../components/files';
import { PathField } from '../../components/PathField';
import { ProgressBar } from '../../components/ProgressBar';
import { VncView } from '../../components/VncView';
import { useApp } from '../../store/index';
import { maskedKernelLine } from '../../store/identity-slice';
import { installStation, type InstallMode } from '../../store/install-slice';

const MODES: Array<{ id: InstallMode; label: string; what: string }> = [
  { id: 'image', label: 'Write an image', what: 'A ready disk image (.img, .raw, a hybrid .iso, .gz/.xz/.zst, qcow2/vmdk…) written onto the disk from here, then read back.' },
  { id: 'vm', label: 'Run an installer here', what: "Your OS installer's ISO boots in a VM whose disk is this workstation's iSCSI disk; its screen shows below." },
  { id: 'linux', label: 'Use my own Linux machine', what: 'Attach the disk with open-iscsi on a Linux machine and run the installer there (the recipe\'s way).' },
];

const MARK = { pass: '✓', warn: '!', fail: '✗' } as const;


/** The post-write probe's findings, each failure with its fix. */
function Findings({ findings }: { findings: WriteFinding[] }) {
  return (
    <ul data-testid="install-findings">
      {findings.map((f) => (
        <li key={f.summary} className={f.status} data-testid={`finding-${f.status}`}>
          {MARK[f.status]} {f.summary}
          {f.fix && f.status !== 'pass' ? <div className="hint">Fix: {f.fix}</div> : null}
        </li>
      ))}
    </ul>
  );
}

/** The overwrite confirm, a real modal: what the disk holds and what would replace it. */
function ConfirmDisk({ title, lun, what, yes, onAnswer }: { title: string; lun: InspectResult['lun']; what: string; yes: string; onAnswer(yes: boolean): void }) {
  return (
    <div className="dialog" role="alertdialog" aria-modal="true" aria-labelledby="install-confirm-title" data-testid="install-confirm">
      <h3 id="install-confirm-title">{title}</h3>
      <p>
        <span className="mono">{lun.target}</span> LUN {lun.lun} already holds: <strong>{lun.layout.summary}</strong>. {what}
      </p>
      <div className="actions">
        <button type="button" autoFocus onClick={() => onAnswer(false)} data-testid="install-confirm-no">
          Keep the disk
        </button>
        <button type="button" className="danger" onClick={() => onAnswer(true)} data-testid="install-confirm-yes">
          {yes}
        </button>
      </div>
    </div>
  );
}

/** After the OS is on the disk: Verify the chain again (which opens Done), or boot it in a VM first. */
function CheckAgain({ station, vm = false }: { station: string; vm?: boolean }) {
  const goTo = useApp((s) => s.goTo);
  const setVerify = useApp((s) => s.setVerify);
  const startVerify = useApp((s) => s.startVerify);
  const startVm = useApp((s) => s.startVm);
  const go = (then: () => Promise<void>) => {
    setVerify({ station });
    goTo('verify');
    void then();
  };
  return (
    <div className="actions">
      <button type="button" className="primary" onClick={() => go(startVerify)} data-testid="install-verify-chain">
        Verify the boot chain again
      </button>
      {vm ? (
        <button type="button" onClick={() => go(startVm)} data-testid="install-vm-boot">
          Boot it in a VM
        </button>
      ) : null}
    </div>
  );
}

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
      {st.confirming === 'write' && i ? <ConfirmDisk title={`Overwrite ${w.name}'s disk?`} lun={i.lun} what={`Writing ${i.image?.name ?? 'the image'} replaces everything on it.`} yes="Overwrite it" onAnswer={(y) => void confirmWrite(y)} /> : null}
      {r ? (
        <div className={`details ${r.ok ? 'pass' : 'fail'}`} data-testid="install-result">
          <h3>{r.ok ? `✓ ${w.name}'s disk is ready` : `${w.name} cannot boot this disk yet`}</h3>
          <p data-testid="install-summary">
            Wrote {r.image.name} ({formatBytes(r.imageBytes)}) in {(r.durationMs / 1000).toFixed(1)} s, {r.mibPerSec.toFixed(1)} MiB/s
            {r.bytesSkipped > 0 ? `; ${formatBytes(r.bytesSkipped)} of zero runs skipped (thin LUN)` : ''}.
          </p>
          <p data-testid="install-verified">{r.verify ? (r.verify.ok ? `Verified: the disk reads back exactly the image (sha256 ${r.verify.sha256.slice(0, 16)}…).` : `The disk does NOT read back as written: first difference at byte ${r.verify.mismatchAt}.`) : 'Not verified (read-back was off).'}</p>
          <Findings findings={r.findings} />
          {r.ok ? <CheckAgain station={w.name} /> : null}
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

/** Install in a VM: the ISO, the installer's screen (VNC), what to choose in it, stop, the findings afterwards. */
function InstallerVm({ w }: { w: Workstation }) {
  const st = useApp((s) => s.install);
  const ins = useApp((s) => s.installInspect);
  const vm = useApp((s) => s.installVm);
  const id = useApp((s) => s.identity);
  const setInstall = useApp((s) => s.setInstall);
  const request = useApp((s) => s.requestInstallVm);
  const stop = useApp((s) => s.stopInstallVm);
  const confirmWrite = useApp((s) => s.confirmWrite);
  const running = vm.status === 'running';
  const kernel = maskedKernelLine(id, w.name);
  const why = !st.iso.trim() ? 'Choose the installer ISO (a file, or paste its URL) first.' : running ? 'The installer VM is running.' : undefined;
  const r = vm.result;
  return (
    <div data-testid="install-vm">
      <PathField label="Installer ISO: a file on this computer, or an http(s) URL" kind="iso" value={st.iso} placeholder="/home/me/debian-12.8.0-amd64-netinst.iso" onChange={(v) => setInstall({ iso: v })} testId="install-iso" />
      <div className="actions sticky-action">
        <button type="button" className="primary" disabled={!!why || ins.status === 'running'} onClick={() => void request()} data-testid="install-vm-start">
          Start the installer
        </button>
        {why ? (
          <span className="small muted" data-testid="install-vm-why">
            {why}
          </span>
        ) : null}
        {running ? (
          <button type="button" onClick={() => void stop()} data-testid="install-vm-stop" title="Pulls the plug: use it when the installer has finished but does not power off, or to give up.">
            Stop the VM
          </button>
        ) : null}
      </div>
      {ins.error && st.mode === 'vm' ? <ErrorBox error={ins.error} testId="install-inspect-error" /> : null}
      {running && vm.progress ? <ProgressBar progress={vm.progress} bytes testId="install-vm-progress" /> : null}
      {st.confirming === 'vm' && ins.result ? <ConfirmDisk title={`Give the installer ${w.name}'s disk?`} lun={ins.result.lun} what="The installer may replace everything on it." yes="Start the installer" onAnswer={(y) => void confirmWrite(y)} /> : null}
      <div className="install-vm-grid">
        {running && vm.screen ? (
          <div>
            <VncView url={vm.screen.url} password={vm.screen.password} label={`Installer of ${w.name}`} />
            <p className="small muted" data-testid="install-vm-vnc">
              Also on any VNC viewer: 127.0.0.1:{vm.screen.port} (display :{vm.screen.display}), password {vm.screen.password}. The run ends when the installer powers the VM off.
            </p>
          </div>
        ) : null}
        <aside className="notice" data-testid="install-vm-advice">
          <strong>In the installer, for a diskless boot</strong>
          <ul className="small">
            <li>Install onto the virtual disk (the only disk it shows: the workstation's iSCSI disk).</li>
            <li>{w.firmware === 'uefi' ? 'UEFI: a GPT with an EFI system partition; put the boot loader on the removable path too (\\EFI\\BOOT\\BOOTX64.EFI).' : 'BIOS: the boot loader into the disk\'s MBR.'}</li>
            {installerAdvice(w.initramfs).map((n) => (
              <li key={n}>{n}</li>
            ))}
          </ul>
          {kernel ? (
            <p className="small">
              Kernel parameters: <code data-testid="install-vm-kernel">{kernel}</code>
            </p>
          ) : null}
        </aside>
      </div>
      {vm.console.length > 0 ? (
        <details>
          <summary>Serial console ({vm.console.length} lines)</summary>
          <pre className="mono small" data-testid="install-vm-console">{vm.console.join('\n')}</pre>
        </details>
      ) : null}
      {vm.status === 'cancelled' ? <p className="notice warn">Cancelled: the VM was stopped before the installer finished.</p> : null}
      {vm.error ? <ErrorBox error={vm.error} testId="install-vm-error" /> : null}
      {r ? (
        <div className={`details ${r.findings.every((f) => f.status !== 'fail') ? 'pass' : 'fail'}`} data-testid="install-vm-result">
          <h3>{r.ended === 'poweroff' ? 'The installer finished and powered the VM off' : 'The VM was stopped'}</h3>
          <p>{w.name}'s disk holds: {r.layout?.summary ?? 'unknown'}.</p>
          <Findings findings={r.findings} />
          <CheckAgain station={w.name} vm />
        </div>
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
          {mode === 'linux' ? <LinuxHelp w={w} /> : mode === 'vm' ? <InstallerVm w={w} /> : <WriteImage w={w} />}
        </>
      )}
    </section>
  );
}
