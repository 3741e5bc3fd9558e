import { SecretsNotice } from '../../components/SecretsNotice';
import type { UploadPlan } from '../../../../shared/upload';
import { ErrorBox } from '../../components/ErrorBox';
import { formatBytes } from '../../components/files';
import { LogBox } from '../../components/LogBox';
import { ProgressBar } from '../../components/ProgressBar';
import { useApp } from '../../store/index';
import { projectUploadHost } from '../../store/upload-slice';
import { PathField } from '../../components/PathField';
import { ServePanel } from './ServePanel';

function PlanTable({ plan }: { plan: UploadPlan }) {
  const rows: Array<[string, string, string]> = [
    ...plan.add.map((f): [string, string, string] => [f, 'new', 'ok']),
    ...plan.change.map((f): [string, string, string] => [f, 'changed (old copy kept as a backup)', 'warn']),
    ...plan.same.map((f): [string, string, string] => [f, 'unchanged', '']),
    ...plan.extra.map((f): [string, string, string] => [f, 'uploaded before, no longer in the project (left alone)', '']),
  ];
  return (
    <table className="portals" data-testid="upload-plan">
      <tbody>
        {rows.map(([f, what, cls]) => (
          <tr key={f} data-testid="plan-row" data-action={what.split(' ')[0]}>
            <td className="mono">{f}</td>
            <td>{cls ? <span className={`badge ${cls}`}>{what}</span> : what}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** Upload step: server, host-key check, plan, upload with progress, verification, rollback. */
export function UploadStep() {
  const u = useApp((s) => s.upload);
  const setServer = useApp((s) => s.setServer);
  const checkServer = useApp((s) => s.checkServer);
  const trustServer = useApp((s) => s.trustServer);
  const startUpload = useApp((s) => s.startUpload);
  const cancelUpload = useApp((s) => s.cancelUpload);
  const rollbackUpload = useApp((s) => s.rollbackUpload);
  const s = u.server;
  // An empty host field uses the project's NAS: say which one.
  const nasHost = useApp(projectUploadHost);
  const running = u.status === 'running';
  const writes = u.plan ? u.plan.plan.add.length + u.plan.plan.change.length : 0;
  return (
    <section className="step" data-testid="step-upload">
      <h2>Upload the boot files to the NAS</h2>
      <p className="lead">
        The scripts and the iPXE binaries go into the TFTP root. Bootchain shows what will change first, keeps a copy of every file it
        replaces, and writes each file under a temporary name before putting it in place — the TFTP server never serves half a file.
      </p>
      <div className="grid2">
        <label>
          Upload to
          <select value={s.kind} onChange={(e) => setServer({ kind: e.target.value as typeof s.kind })} data-testid="upload-kind">
            <option value="ssh">the NAS over SSH/SFTP</option>
            <option value="folder">a folder on this computer</option>
          </select>
        </label>
        {s.kind === 'folder' ? (
          <PathField label="Folder" kind="tftp-folder" value={s.folder} placeholder="/mnt/nas/tftp" onChange={(v) => setServer({ folder: v })} testId="upload-folder" />
        ) : (
          <>
            <label>
              Host
              <input value={s.host} placeholder={nasHost ? `${nasHost} (the project's NAS)` : "the project's NAS"} onChange={(e) => setServer({ host: e.target.value })} data-testid="upload-host" />
            </label>
            <label>
              Port
              <input value={s.port} placeholder="22" inputMode="numeric" onChange={(e) => setServer({ port: e.target.value })} data-testid="upload-port" />
            </label>
            <label>
              User
              <input value={s.user} placeholder="admin" onChange={(e) => setServer({ user: e.target.value })} data-testid="upload-user" />
            </label>
            <label>
              TFTP root on the NAS
              <input value={s.root} placeholder="/srv/tftp" onChange={(e) => setServer({ root: e.target.value })} data-testid="upload-root" />
            </label>
            <label>
              Log in with
              <select value={s.auth} onChange={(e) => setServer({ auth: e.target.value as typeof s.auth })} data-testid="upload-auth">
                <option value="key">a key file</option>
                <option value="agent">the SSH agent</option>
                <option value="password">a password</option>
              </select>
            </label>
            {s.auth === 'key' ? (
              <>
                <PathField label="Private key file" kind="key" value={s.keyPath} placeholder="/home/me/.ssh/id_ed25519" onChange={(v) => setServer({ keyPath: v })} testId="upload-key" />
                <label>
                  Key passphrase (if any)
                  <input type="password" autoComplete="off" value={s.passphrase} onChange={(e) => setServer({ passphrase: e.target.value })} data-testid="upload-passphrase" />
                </label>
              </>
            ) : null}
            {s.auth === 'password' ? (
              <label>
                Password
                <input type="password" autoComplete="off" value={s.password} onChange={(e) => setServer({ password: e.target.value })} data-testid="upload-password" />
              </label>
            ) : null}
          </>
        )}
      </div>
      {s.kind === 'ssh' && s.auth !== 'agent' ? <SecretsNotice what={s.auth === 'password' ? 'the SSH password' : 'the key passphrase'} /> : null}
      <div className="actions">
        <button type="button" className="primary" disabled={running || u.checking} onClick={() => void checkServer()} data-testid="upload-check">
          {u.checking ? 'Connecting…' : 'Connect and show the plan'}
        </button>
      </div>

      {u.hostKey?.status === 'unknown' ? (
        <div className="notice" role="dialog" aria-label="Trust this server?" data-testid="hostkey-prompt">
          <p>
            <strong>First connection to {u.hostKey.host}:{u.hostKey.port}.</strong> Its {u.hostKey.keyType} key has the fingerprint
          </p>
          <p className="mono" data-testid="hostkey-fingerprint">
            {u.hostKey.fingerprint}
          </p>
          <p className="small">
            Compare it with the NAS's own: on the NAS run <span className="mono">ssh-keygen -lf /etc/ssh/ssh_host_{u.hostKey.keyType.replace('ssh-', '')}_key.pub</span>.
            Trust it only if they match; Bootchain will refuse this server if the key ever changes.
          </p>
          <div className="actions">
            <button type="button" className="primary" onClick={() => void trustServer()} data-testid="hostkey-trust">
              The fingerprints match: trust this server
            </button>
            <button type="button" onClick={() => setServer({ host: s.host })} data-testid="hostkey-reject">
              Cancel
            </button>
          </div>
        </div>
      ) : null}
      {u.hostKey?.status === 'changed' ? (
        <div className="error" role="alert" data-testid="hostkey-changed">
          <strong>The server's key has changed — Bootchain will not connect.</strong>
          <div>
            Trusted: <span className="mono">{u.hostKey.knownFingerprint}</span>
          </div>
          <div>
            Now: <span className="mono">{u.hostKey.fingerprint}</span>
          </div>
          <div className="hint">Someone may be intercepting the connection, or the NAS was reinstalled. Check the key on the NAS itself before anything else.</div>
        </div>
      ) : null}
      {u.hostKey?.status === 'trusted' ? (
        <p className="small" data-testid="hostkey-trusted">
          <span className="badge ok">trusted</span> <span className="mono">{u.hostKey.fingerprint}</span>
        </p>
      ) : null}

      {running && u.progress ? <ProgressBar progress={u.progress} /> : null}
      {running && u.mode === 'upload' ? (
        <button type="button" onClick={() => void cancelUpload()} data-testid="upload-cancel">
          Cancel
        </button>
      ) : null}
      {u.error ? <ErrorBox error={u.error} testId="upload-error" /> : null}
      {u.status === 'cancelled' ? (
        <p className="notice" data-testid="upload-cancelled">
          Upload cancelled: every file on the server is either its old or its new version; the next upload tidies up.
        </p>
      ) : null}

      {u.plan ? (
        <div data-testid="upload-plan-box">
          <h3>Plan for {u.plan.target}</h3>
          <PlanTable plan={u.plan.plan} />
          <p>
            {writes === 0 ? 'The server already holds these files: nothing to upload.' : `${writes} file(s), ${formatBytes(u.plan.plan.bytes)} to write.`}
          </p>
          {writes > 0 ? (
            <button type="button" className="primary" disabled={running} onClick={() => void startUpload(false)} data-testid="upload-start">
              Upload {writes} file(s)
            </button>
          ) : null}
        </div>
      ) : null}

      {u.result ? (
        <div data-testid="upload-result">
          <p>
            <span className="badge ok">uploaded</span> {formatBytes(u.result.bytes)} to {u.result.target} in {(u.result.durationMs / 1000).toFixed(1)} s
            {u.result.rename === 'fallback' ? ' (the server lacks atomic rename: the old copy was kept aside until each new file was in place)' : ''}.
          </p>
          <table className="portals">
            <tbody>
              {u.result.files.map((f) => (
                <tr key={f.file} data-testid="uploaded-file">
                  <td className="mono">{f.file}</td>
                  <td>{f.action === 'same' ? 'unchanged' : f.action === 'add' ? 'new' : 'replaced'}</td>
                  <td>{formatBytes(f.bytes)}</td>
                  <td>
                    <span className="badge ok">{f.verified === 'shell-sha256' ? 'sha256 checked on the NAS' : f.verified === 'read-back' ? 'read back and checked' : f.verified === 'unchanged' ? 'unchanged (same sha256)' : 'checked'}</span>
                  </td>
                  <td>{f.tftp === undefined ? null : f.tftp ? <span className="badge ok">served by TFTP</span> : <span className="badge warn">TFTP serves other bytes</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {u.result.tftp && !u.result.tftp.ok ? (
            <div className="error" data-testid="upload-tftp-problems">
              <strong>The TFTP server at {u.result.tftp.host} does not serve what was uploaded:</strong>
              <ul>
                {u.result.tftp.problems.map((p) => (
                  <li key={p}>{p}</li>
                ))}
              </ul>
              <div className="hint">Check that the TFTP root above is the folder the NAS's TFTP server serves.</div>
            </div>
          ) : null}
          {u.result.backup ? (
            <div className="actions">
              <button type="button" onClick={() => void rollbackUpload()} data-testid="upload-rollback">
                Roll back this upload
              </button>
              <span className="small">Backup set {u.result.backup}</span>
            </div>
          ) : null}
        </div>
      ) : null}
      {u.rolledBack ? (
        <p className="notice" data-testid="upload-rolled-back">
          Rolled back: restored {u.rolledBack.restored.join(', ') || 'nothing'}; removed {u.rolledBack.removed.join(', ') || 'nothing'}.
        </p>
      ) : null}
      <LogBox title="Upload log" lines={u.log} testId="upload-log" />
      <ServePanel />
    </section>
  );
}
