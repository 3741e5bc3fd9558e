import { useState } from 'react';
import { ROUTER_LABELS, type RouterKind } from '../../../../shared/gen/router-snippet';
import { reportMarkdown } from '../../../../shared/verify';
import { offerDownload } from '../../components/files';
import { useApp } from '../../store/index';
import { maskedKernelLine } from '../../store/identity-slice';

/** Done screen (after a green Verify): what was set up, what to do next, export and save. */
export function DoneStep() {
  const p = useApp((s) => s.identity.project);
  const r = useApp((s) => s.verify.result);
  const serving = useApp((s) => s.serve.running);
  const proxy = useApp((s) => s.serve.running && s.serve.proxyDhcp);
  const id = useApp((s) => s.identity);
  /** The kernel parameters of a workstation, its CHAP secrets masked (the full line is kernel/NAME.txt in Identity's files). */
  const kernel = (name: string): string | undefined => maskedKernelLine(id, name);
  const [saved, setSaved] = useState(false);
  const saveProject = useApp((s) => s.saveProject);
  const msg = useApp((s) => s.identity.projectMessage);
  const goTo = useApp((s) => s.goTo);
  const ws = p.workstations ?? [];
  if (!r?.ok)
    return (
      <section className="step" data-testid="step-done">
        <h2>Not done yet</h2>
        <p data-testid="done-blocked">Verify has not found every link holding yet: run Verify first.</p>
      </section>
    );
  return (
    <section className="step" data-testid="step-done">
      <h2>✓ Your boot chain holds</h2>
      <h3>What was set up</h3>
      <ul data-testid="done-summary">
        <li>
          NAS {p.nas.address}: boot files {serving ? 'served from this computer (keep Bootchain open while the PCs boot)' : `in ${p.nas.tftpRoot ?? '/srv/tftp'}`}
        </li>
        <li data-testid="done-router">
          Router: {proxy ? 'left alone — this computer answers the boot requests (proxyDHCP); keep Bootchain open while the PCs boot' : `${ROUTER_LABELS[(p.router.kind ?? 'dnsmasq') as RouterKind]}, with the Bootchain snippet`}
        </li>
        {ws.map((w) => (
          <li key={w.name} data-testid="done-station">
            {w.name} ({w.mac}, {w.firmware === 'uefi' ? 'UEFI' : 'BIOS'}) boots {w.target} LUN {w.lun}
            {w.name === r.station ? ' — verified' : ''}
          </li>
        ))}
      </ul>
      <h3>What to do next</h3>
      <ol data-testid="done-next">
        <li>Power on the PC and choose network boot (PXE) in its firmware if it does not boot from the network by itself.</li>
        <li>
          Put the operating system on its iSCSI disk if it is not there yet:{' '}
          <button type="button" className="linklike" onClick={() => goTo('install')} data-testid="done-install">
            the Install step
          </button>{' '}
          writes an image onto it, runs your installer in a VM whose disk it is, or gives the open-iscsi commands for your own Linux machine. The installed
          system needs these kernel parameters:
          <ul>
            {ws.map((w) =>
              kernel(w.name) ? (
                <li key={w.name}>
                  {w.name}: <code data-testid="done-kernel">{kernel(w.name)}</code>
                  {w.chap ? <span className="small muted"> (CHAP secret masked: the whole line is kernel/{w.name}.txt in Identity's files)</span> : null}
                </li>
              ) : null,
            )}
          </ul>
        </li>
        <li>Watch a boot from here — coming later too; for now Diagnostics checks a workstation's chain at any time.</li>
      </ol>
      <div className="actions">
        <button type="button" className="primary" onClick={() => void saveProject().then(() => setSaved(true))} data-testid="done-save">
          Save the project
        </button>
        <button type="button" onClick={() => offerDownload(`${p.name}.bootchain.json`, 'application/json', `${JSON.stringify(p, null, 2)}\n`)} data-testid="done-export">
          Export the project
        </button>
        <button type="button" onClick={() => offerDownload(`${r.station}-bootchain-report.md`, 'text/markdown', reportMarkdown(r))} data-testid="done-report">
          Export the report
        </button>
        <button type="button" onClick={() => goTo('identity')} data-testid="done-add">
          Add another workstation
        </button>
      </div>
      {saved && msg ? (
        <p className={msg.ok ? 'muted small' : 'field-error'} data-testid="done-message">
          {msg.text}
        </p>
      ) : null}
    </section>
  );
}
