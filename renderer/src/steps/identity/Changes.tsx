import { fileChanges } from '../../../../shared/diff';
import { identityOutput, openedFiles } from '../../store/identity-slice';
import { useApp } from '../../store/index';

/**
 * Reconfiguring a workstation: every generated file that differs from the project as it was
 * opened — the scripts the NAS will serve (Upload replaces them, with a backup) and the router's
 * DHCP config — with a line diff.
 */
export function Changes() {
  const id = useApp((s) => s.identity);
  const before = openedFiles(id);
  const after = identityOutput(id).files;
  if (!id.opened || !before || !after) return null;
  const changes = fileChanges(before, after);
  return (
    <div className="changes" data-testid="changes">
      <h3>Changes since you opened {id.opened.name}</h3>
      {changes.length === 0 ? (
        <p className="small" data-testid="changes-none">
          No generated file changes yet.
        </p>
      ) : (
        <>
          <p className="small">
            {changes.length} file(s) change: the scripts go to the NAS with the next upload (the old ones are kept for rollback);
            files under dhcp/ go to the router by hand.
          </p>
          {changes.map((c) => (
            <details key={c.file} data-testid="change" data-file={c.file} open={!c.file.startsWith('dhcp/') && !c.file.startsWith('kernel/')}>
              <summary>
                <span className="mono">{c.file}</span> — {c.kind}
              </summary>
              <pre className="diff">
                {c.diff.map((d, k) => (
                  <div key={k} className={d.op === '+' ? 'add' : d.op === '-' ? 'del' : ''}>
                    {d.op} {d.line}
                  </div>
                ))}
              </pre>
            </details>
          ))}
        </>
      )}
    </div>
  );
}
