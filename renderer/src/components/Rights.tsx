import { useEffect } from 'react';
import { useApp } from '../store';
import { ErrorBox } from './ErrorBox';

/**
 * The rights beyond an ordinary user's that some checks need (ports below 1024, a tap device):
 * whether this computer gives them, why, what each grant does and costs, and a button that runs
 * the one-time grant (the desktop asks for the administrator password; the app never runs as root).
 */
export function Rights() {
  const p = useApp((s) => s.privileges);
  const tap = useApp((s) => s.vm.ifname);
  const load = useApp((s) => s.loadPrivileges);
  const grant = useApp((s) => s.grant);
  const setBridge = useApp((s) => s.setPrivilegeBridge);
  useEffect(() => {
    void load();
  }, [load, tap]);
  const st = p.status;
  if (!st && !p.error) return null;
  const granted = st?.items.filter((i) => i.granted).length ?? 0;
  return (
    <details className="rights" data-testid="rights" open={st ? granted < st.items.length : true}>
      <summary>
        Rights this computer gives Bootchain: <span data-testid="rights-summary">{st ? `${granted} of ${st.items.length} granted` : 'unknown'}</span>
      </summary>
      {st?.items.map((i) => (
        <div key={i.id} className={`right ${i.granted ? 'ok' : 'missing'}`} data-testid={`right-${i.id}`} data-granted={i.granted ? 'yes' : 'no'}>
          <p>
            <span className={`badge ${i.granted ? 'ok' : 'warn'}`}>{i.granted ? 'granted' : 'missing'}</span> <strong>{i.title}</strong> — for {i.neededFor}.
          </p>
          <p className="small muted" data-testid={`right-${i.id}-evidence`}>
            {i.evidence}
          </p>
          {i.granted ? null : (
            <>
              <p className="small">{i.explanation}</p>
              {i.id === 'tap' ? (
                <label className="inline small">
                  LAN bridge to join (optional)
                  <input value={p.bridge} placeholder="br0" size={10} onChange={(e) => setBridge(e.target.value)} data-testid="rights-bridge" />
                </label>
              ) : null}
              <pre className="mono small" data-testid={`right-${i.id}-commands`}>
                {i.commands.join('\n')}
              </pre>
              {i.via === 'none' ? (
                <p className="small">pkexec is not installed: an administrator runs the first command once.</p>
              ) : (
                <button type="button" disabled={p.granting !== undefined} onClick={() => void grant(i.id)} data-testid={`right-${i.id}-grant`}>
                  {p.granting === i.id ? 'Granting…' : i.via === 'pkexec' ? 'Grant it (asks for the administrator password)' : 'Grant it (running as root)'}
                </button>
              )}
            </>
          )}
        </div>
      ))}
      {p.error ? <ErrorBox error={p.error} testId="rights-error" /> : null}
    </details>
  );
}
