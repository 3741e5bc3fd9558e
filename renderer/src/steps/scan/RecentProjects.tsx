import { useEffect } from 'react';
import { useApp } from '../../store/index';
import { resumeStep } from '../../store/remember';

/**
 * The start screen's saved projects, newest first: "Reconfigure" opens one at the Identity step
 * (its NAS and disks are known, so Scan and Target are done) — or straight at Upload when its last
 * build still matches, at Verify when its upload does too (remember.ts) —, "Diagnose" at the
 * Diagnostics view.
 */
export function RecentProjects() {
  const saved = useApp((s) => s.identity.saved);
  const listProjects = useApp((s) => s.listProjects);
  const openProject = useApp((s) => s.openProject);
  const goTo = useApp((s) => s.goTo);
  useEffect(() => {
    void listProjects();
  }, [listProjects]);
  if (saved.length === 0) return null;
  const recent = [...saved].sort((a, b) => b.modified.localeCompare(a.modified)).slice(0, 8);
  const open = async (name: string, where: 'identity' | 'diagnostics') => {
    await openProject(name);
    const to = where === 'identity' ? resumeStep(useApp.getState()) : where;
    goTo(to);
    // goTo opens a step only when the ones before it are complete: else reconfiguring starts at Identity.
    if (useApp.getState().wizard.current !== to) goTo(where);
  };
  return (
    <div className="recent" data-testid="recent-projects">
      <h3>Recent projects</h3>
      <ul>
        {recent.map((p) => (
          <li key={p.name} data-testid="recent-project" data-name={p.name}>
            <span className="mono">{p.name}</span> <span className="small muted">{new Date(p.modified).toLocaleString()}</span>{' '}
            <button type="button" onClick={() => void open(p.name, 'identity')} data-testid="recent-reconfigure">
              Reconfigure
            </button>{' '}
            <button type="button" onClick={() => void open(p.name, 'diagnostics')} data-testid="recent-diagnose">
              Diagnose
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}
