import { useApp } from '../../store/index';
import { RecentProjects } from '../scan/RecentProjects';

/** The steps and how long each takes, roughly (the start screen's list). */
export const START_STEPS: Array<[string, string]> = [
  ['Scan and Target', 'find your NAS and the disk of each workstation — about 1 minute'],
  ['Identity', "each PC's name and MAC, its IQN and CHAP — 2 to 5 minutes"],
  ['Router', "tell your router's DHCP where to boot from (or serve from this computer) — about 5 minutes"],
  ['Build', 'iPXE with the boot script in it — 2 to 10 minutes the first time, seconds after'],
  ['Upload and Verify', 'copy the boot files to the NAS and check every link of the chain — about 1 minute'],
];

/** Start screen: what you need, the steps, and New setup (primary) / Reconfigure / Diagnose. */
export function StartStep() {
  const goTo = useApp((s) => s.goTo);
  const saved = useApp((s) => s.identity.saved);
  const listProjects = useApp((s) => s.listProjects);
  const reconfigure = () => {
    void listProjects();
    // The saved projects are listed below, newest first: the keyboard lands on the newest's Reconfigure.
    document.querySelector<HTMLElement>('[data-testid="recent-reconfigure"]')?.focus();
  };
  return (
    <section className="step" data-testid="step-start">
      <h2>Boot your PCs from the NAS</h2>
      <p className="lead">Bootchain sets up diskless workstations that boot from an iSCSI disk on your NAS, and checks that every link holds.</p>
      <h3>What you need</h3>
      <ul data-testid="start-needs">
        <li>A NAS with iSCSI (a target with a disk per PC) and SSH access, to put the boot files on it.</li>
        <li>
          Access to your router's DHCP settings — or not: Bootchain can answer the boot requests from this computer instead (proxyDHCP), and the
          router stays untouched.
        </li>
        <li>The MAC address of each PC (on a sticker, in its firmware setup, or shown by its network boot).</li>
      </ul>
      <h3>The steps</h3>
      <ol data-testid="start-steps">
        {START_STEPS.map(([t, d]) => (
          <li key={t}>
            <strong>{t}</strong>: {d}
          </li>
        ))}
      </ol>
      <div className="actions">
        <button type="button" className="primary" onClick={() => goTo('scan')} data-testid="start-new">
          New setup
        </button>
        <button type="button" onClick={reconfigure} disabled={saved.length === 0} title={saved.length === 0 ? 'No saved project yet' : 'Open a saved project below'} data-testid="start-reconfigure">
          Reconfigure
        </button>
        <button type="button" onClick={() => goTo('diagnostics')} data-testid="start-diagnose">
          Diagnose
        </button>
      </div>
      {saved.length === 0 ? <p className="small muted" data-testid="start-no-saved">Reconfigure opens a saved project: none is saved yet.</p> : null}
      <RecentProjects />
    </section>
  );
}
