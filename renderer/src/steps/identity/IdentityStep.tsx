import { useEffect, useState, type ReactNode } from 'react';
import { SecretsNotice } from '../../components/SecretsNotice';
import { SecretInput } from '../../components/ChapFields';
import { Changes } from './Changes';
import { formatBytes, offerDownload } from '../../components/files';
import { macHexhyp, parseMac } from '../../../../shared/model/mac';
import { useApp } from '../../store/index';
import { identityOutput, secretCheck } from '../../store/identity-slice';
import { diskOptions } from '../../store/target-slice';

/** A disclosure for expert fields: opens by itself when a field in it is wrong, and stays open. */
function Advanced({ forced, summary, testId, children }: { forced: boolean; summary: string; testId: string; children: ReactNode }) {
  const [open, setOpen] = useState(forced);
  useEffect(() => {
    if (forced) setOpen(true);
  }, [forced]);
  return (
    <details className="advanced" data-testid={testId} open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>{summary}</summary>
      {children}
    </details>
  );
}

/** Shows the error of one field, if any. */
function FieldError({ errors, field }: { errors: Array<{ field: string; message: string }>; field: string }) {
  const e = errors.find((x) => x.field === field);
  return e ? (
    <div className="field-error" role="alert" data-testid={`error-${field}`}>
      {e.message}
    </div>
  ) : null;
}

/** Identity step: workstations, MACs, IQNs, CHAP, and a preview of every generated file. */
export function IdentityStep() {
  const id = useApp((s) => s.identity);
  const setProjectField = useApp((s) => s.setProjectField);
  const addWorkstation = useApp((s) => s.addWorkstation);
  const updateWorkstation = useApp((s) => s.updateWorkstation);
  const removeWorkstation = useApp((s) => s.removeWorkstation);
  const setInitiatorIqn = useApp((s) => s.setInitiatorIqn);
  const enableChap = useApp((s) => s.enableChap);
  const setSecret = useApp((s) => s.setSecret);
  const newSecret = useApp((s) => s.newSecret);
  const selectFile = useApp((s) => s.selectFile);
  const pickDisk = useApp((s) => s.pickDisk);
  const prefillNas = useApp((s) => s.prefillNas);
  const scan = useApp((s) => s.scan);
  const target = useApp((s) => s.target);
  const disks = diskOptions({ scan, target });
  // The NAS address comes from the portal chosen in Scan and Target (not the NAS's first address).
  useEffect(() => prefillNas(), [prefillNas, target.chosen]);
  const listProjects = useApp((s) => s.listProjects);
  const saveProject = useApp((s) => s.saveProject);
  const openProject = useApp((s) => s.openProject);
  const importProject = useApp((s) => s.importProject);
  useEffect(() => {
    void listProjects();
  }, [listProjects]);
  const out = identityOutput(id);
  const p = id.project;
  const ws = p.workstations ?? [];
  // The router's DHCP config is the Router step's (its kind's one file, with where it goes).
  const files = out.files ? Object.keys(out.files).filter((f) => !f.startsWith('dhcp/')).sort() : [];
  const shown = id.selectedFile && out.files?.[id.selectedFile] !== undefined ? id.selectedFile : files[0];
  const save = (name: string, text: string) => offerDownload(name, 'text/plain', text);

  return (
    <section className="step" data-testid="step-identity">
      <h2>Workstations and their identities</h2>
      <p className="lead">
        Each workstation boots by its MAC address, logs in to its target as its own initiator IQN, and may use CHAP. Bootchain checks every
        value as you type and shows the files it will generate.
      </p>

      <div className="project-bar" data-testid="project-bar">
        <label className="inline">
          Project
          <input value={p.name} onChange={(e) => setProjectField({ name: e.target.value })} data-testid="project-name" size={16} />
        </label>
        <button type="button" onClick={() => void saveProject()} data-testid="project-save">
          Save
        </button>
        <select value="" onChange={(e) => e.target.value && void openProject(e.target.value)} data-testid="project-open" aria-label="Open a saved project">
          <option value="">Open…</option>
          {id.saved.map((s) => (
            <option key={s.name} value={s.name}>
              {s.name}
            </option>
          ))}
        </select>
        <label className="button-like">
          Import…
          <input
            type="file"
            accept="application/json,.json"
            hidden
            onChange={(e) => {
              const f = e.target.files?.[0];
              if (f) void f.text().then(importProject);
              e.target.value = '';
            }}
            data-testid="project-import"
          />
        </label>
        <button type="button" onClick={() => save(`${p.name}.bootchain.json`, `${JSON.stringify(p, null, 2)}\n`)} data-testid="project-export">
          Export
        </button>
        {id.projectMessage ? (
          <span className={id.projectMessage.ok ? 'muted small' : 'field-error'} data-testid="project-message">
            {id.projectMessage.text}
          </span>
        ) : null}
      </div>

      <SecretsNotice what="CHAP" />

      <Changes />

      <div className="grid2">
        <label>
          NAS address (an IP: firmware cannot look up names)
          <input value={p.nas.address} onChange={(e) => setProjectField({ nas: { ...p.nas, address: e.target.value } })} data-testid="nas-address" />
          <FieldError errors={out.errors} field="nas.address" />
        </label>
        <label>
          Your domain (for IQNs)
          <input value={p.iqn.domain} onChange={(e) => setProjectField({ iqn: { ...p.iqn, domain: e.target.value } })} data-testid="iqn-domain" />
          <FieldError errors={out.errors} field="iqn.domain" />
        </label>
        <label>
          Owned since (YYYY-MM)
          <input value={p.iqn.date} onChange={(e) => setProjectField({ iqn: { ...p.iqn, date: e.target.value } })} data-testid="iqn-date" />
          <FieldError errors={out.errors} field="iqn.date" />
        </label>
      </div>
      <Advanced testId="advanced" summary="Advanced: DHCP option 17 and the user-class" forced={out.errors.some((e) => e.field === 'router.rootPath' || e.field.startsWith('boot.'))}>
        <div className="grid2">
          <label>
            DHCP option 17 for Bootchain's iPXE (empty: same TFTP server)
            <span className="muted small">Where Bootchain's iPXE fetches its scripts: empty means the TFTP server that served iPXE, or a URL such as http://192.168.1.20/boot.</span>
            <input value={p.router.rootPath ?? ''} placeholder="(empty)" onChange={(e) => setProjectField({ router: { ...p.router, rootPath: e.target.value } })} data-testid="root-path" />
            <FieldError errors={out.errors} field="router.rootPath" />
          </label>
          <label>
            User-class of Bootchain's iPXE
            <span className="muted small">The name our iPXE sends to DHCP so the router can tell it from the PC's own boot firmware (and not loop).</span>
            <input
              value={p.boot?.userClass ?? 'bootchain'}
              onChange={(e) => setProjectField({ boot: { biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', ...p.boot, userClass: e.target.value } })}
              data-testid="user-class"
            />
            <FieldError errors={out.errors} field="boot.userClass" />
          </label>
        </div>
      </Advanced>

      <h3>Workstations</h3>
      {ws.map((w, i) => {
        const mac = parseMac(w.mac);
        const f = (k: string) => `workstations[${i}].${k}`;
        return (
          <div className="workstation" key={i} data-testid="workstation">
            <div className="grid3">
              <label>
                Name
                <input value={w.name} onChange={(e) => updateWorkstation(i, { name: e.target.value })} data-testid="ws-name" />
                <FieldError errors={out.errors} field={f('name')} />
              </label>
              <label>
                MAC address
                <input value={w.mac} placeholder="52:54:00:12:34:56" onChange={(e) => updateWorkstation(i, { mac: e.target.value })} data-testid="ws-mac" />
                <FieldError errors={out.errors} field={f('mac')} />
                {mac.ok ? (
                  <span className="muted small" data-testid="ws-script-name">
                    boot script: {macHexhyp(mac.value)}.ipxe
                  </span>
                ) : null}
              </label>
              <label>
                Firmware
                <select value={w.firmware} onChange={(e) => updateWorkstation(i, { firmware: e.target.value as 'bios' | 'uefi' })} data-testid="ws-firmware">
                  <option value="bios">BIOS (legacy)</option>
                  <option value="uefi">UEFI</option>
                </select>
              </label>
              <label className="wide">
                Disk
                {disks.length > 0 ? (
                  <select value={disks.some((d) => d.target === w.target) ? w.target : ''} onChange={(e) => e.target.value && pickDisk(i, e.target.value)} data-testid="ws-disk">
                    {disks.some((d) => d.target === w.target) ? null : <option value="">{w.target ? `${w.target} (typed under Advanced)` : 'Choose a disk…'}</option>}
                    {disks.map((d) => (
                      <option key={d.target} value={d.target}>
                        {d.target.split(':').pop()} — {d.sizeBytes === undefined ? '' : `${formatBytes(d.sizeBytes)}, `}LUN {d.lun}, {d.summary}
                        {d.chap ? ', CHAP' : ''}
                      </option>
                    ))}
                  </select>
                ) : (
                  <span className="muted small" data-testid="ws-disk-none">
                    {w.target ? `${w.target}, LUN ${w.lun}` : 'No discovered disk: discover the targets in the Target step, or type the target under Advanced.'}
                  </span>
                )}
                <FieldError errors={out.errors} field={f('target')} />
                {w.target && ws.some((o, j) => j !== i && o.target === w.target && (o.lun ?? 0) === (w.lun ?? 0)) ? (
                  <span className="field-warning small" data-testid="ws-disk-shared">
                    {ws.filter((o, j) => j !== i && o.target === w.target && (o.lun ?? 0) === (w.lun ?? 0)).map((o) => o.name).join(', ')} boots this disk too: two PCs
                    writing one disk corrupt it. Give each workstation its own.
                  </span>
                ) : null}
              </label>
            </div>
            <Advanced
              testId="ws-advanced"
              summary="Advanced: target IQN, LUN, initiator IQN, initramfs"
              forced={out.errors.some((e) => ['target', 'lun', 'root', ...(id.iqnEdited[i] ? ['initiatorIqn'] : [])].some((k) => e.field === f(k)))}
            >
              <div className="grid3">
                <label className="wide">
                  Target IQN
                  <span className="muted small">The iSCSI name of the disk's target on the NAS (iqn.yyyy-mm.domain:name); choosing a disk above fills it.</span>
                  <input value={w.target} onChange={(e) => updateWorkstation(i, { target: e.target.value })} data-testid="ws-target" />
                </label>
                <label>
                  LUN with the disk
                  <span className="muted small">The number of the disk inside the target: 1 on Linux tgt (0 is its controller), 0 on QNAP and istgt.</span>
                  <input type="number" min={0} value={w.lun} onChange={(e) => updateWorkstation(i, { lun: Number(e.target.value) })} data-testid="ws-lun" />
                  <FieldError errors={out.errors} field={f('lun')} />
                </label>
                <label className="wide">
                  Initiator IQN (generated; type to override, clear to regenerate)
                  <span className="muted small">The name this workstation logs in as; the NAS's access list allows it.</span>
                  <input value={w.initiatorIqn} onChange={(e) => setInitiatorIqn(i, e.target.value)} data-testid="ws-iqn" />
                  <FieldError errors={out.errors} field={f('initiatorIqn')} />
                </label>
                <label>
                  Initramfs
                  <span className="muted small">The tool that builds the installed OS's early boot image: it decides the kernel's iSCSI parameters.</span>
                  <select value={w.initramfs ?? 'genkernel'} onChange={(e) => updateWorkstation(i, { initramfs: e.target.value as 'genkernel' | 'dracut' | 'initramfs-tools' })} data-testid="ws-initramfs">
                    <option value="genkernel">genkernel (Gentoo)</option>
                    <option value="dracut">dracut (Fedora, Arch…)</option>
                    <option value="initramfs-tools">initramfs-tools (Debian, Ubuntu)</option>
                  </select>
                </label>
                {w.initramfs && w.initramfs !== 'genkernel' ? (
                  <label>
                    root= of the installed system
                    <input value={w.root ?? ''} placeholder="UUID=…" onChange={(e) => updateWorkstation(i, { root: e.target.value || undefined })} data-testid="ws-root" />
                    <FieldError errors={out.errors} field={f('root')} />
                  </label>
                ) : null}
              </div>
            </Advanced>
            <label className="inline">
              <input type="checkbox" checked={!!w.chap} onChange={(e) => enableChap(i, e.target.checked)} data-testid="ws-chap" />
              CHAP
            </label>
            {w.chap ? (
              <div className="grid3">
                <label>
                  CHAP user
                  <input value={w.chap.username} onChange={(e) => updateWorkstation(i, { chap: { ...w.chap!, username: e.target.value } })} data-testid="ws-chap-user" />
                  <FieldError errors={out.errors} field={f('chap.username')} />
                </label>
                <label>
                  CHAP secret (1 to 255 letters, digits and . _ + = @ ^ ~ ! % * -; 12 to 16 suit every initiator)
                  <SecretInput value={id.secrets[w.chap.secretRef] ?? ''} onChange={(v) => setSecret(w.chap!.secretRef, v)} testId="ws-chap-secret" check={secretCheck} />
                  <FieldError errors={out.errors} field={f('chap.secretRef')} />
                </label>
                {w.chap.mutual ? (
                  <label>
                    Mutual secret (the NAS proves itself with it)
                    <SecretInput
                      value={id.secrets[w.chap.mutual.secretRef] ?? ''}
                      onChange={(v) => setSecret(w.chap!.mutual!.secretRef, v)}
                      testId="ws-chap-mutual-secret"
                      check={secretCheck}
                    />
                    <FieldError errors={out.errors} field={f('chap.mutual.secretRef')} />
                  </label>
                ) : null}
                <div className="actions">
                  <button type="button" onClick={() => newSecret(w.chap!.secretRef)}>
                    New secret
                  </button>
                  <label className="inline">
                    <input type="checkbox" checked={!!w.chap.mutual} onChange={(e) => enableChap(i, true, e.target.checked)} />
                    Mutual
                  </label>
                </div>
              </div>
            ) : null}
            <button type="button" className="link" onClick={() => removeWorkstation(i)}>
              Remove {w.name}
            </button>
          </div>
        );
      })}
      <button type="button" onClick={() => addWorkstation()} data-testid="add-workstation">
        + Add a workstation
      </button>

      <h3>Generated files</h3>
      {out.files ? (
        <div className="preview" data-testid="preview">
          <ul className="files">
            {files.map((f) => (
              <li key={f}>
                <button type="button" className={f === shown ? 'link current' : 'link'} onClick={() => selectFile(f)} data-testid="file">
                  {f}
                </button>
              </li>
            ))}
          </ul>
          {shown ? (
            <div className="file-view">
              <div className="actions">
                <strong data-testid="file-name">{shown}</strong>
                <button type="button" onClick={() => void navigator.clipboard.writeText(out.files![shown]!)}>
                  Copy
                </button>
                <button type="button" onClick={() => save(shown, out.files![shown]!)}>
                  Save…
                </button>
              </div>
              <pre data-testid="file-text">{out.files[shown]}</pre>
            </div>
          ) : null}
          <p className="muted small" data-testid="preview-router-note">
            Your router's DHCP configuration comes in the next step, Router: only your router's, with where it goes.
          </p>
          {out.warnings.filter((w) => !w.startsWith('Your network')).map((w) => (
            <p key={w} className="notice small">
              {w}
            </p>
          ))}
        </div>
      ) : (
        <p className="muted" data-testid="preview-blocked">
          {ws.length === 0 ? 'Add a workstation to see the files.' : `Fix the ${out.errors.length} highlighted value(s) to see the files.`}
        </p>
      )}
    </section>
  );
}
