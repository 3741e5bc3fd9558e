import { useEffect } from 'react';
import { useApp } from '../store';

/**
 * Where the secrets typed here go, and the choice to remember them: encrypted by the OS keychain,
 * for this session only, or — on Linux without a keyring (basic_text) — unprotected, which the
 * user must accept explicitly after reading why.
 */
export function SecretsNotice({ what }: { what: string }) {
  const sec = useApp((s) => s.secrets);
  const load = useApp((s) => s.loadSecretsStatus);
  const setRemember = useApp((s) => s.setRemember);
  const setAllowPlainText = useApp((s) => s.setAllowPlainText);
  const forget = useApp((s) => s.forgetSecrets);
  useEffect(() => {
    void load();
  }, [load]);
  const st = sec.status;
  if (!st) return null;
  const remembered = st.stored.length + st.unreadable.length;
  return (
    <div className={st.backend === 'basic_text' ? 'notice warn' : 'muted small'} data-testid="secrets-notice" data-backend={st.backend}>
      {st.backend === 'session' ? (
        <span data-testid="secrets-where">Secrets ({what}) stay in this session only. {st.warning}</span>
      ) : (
        <>
          {st.backend === 'basic_text' ? (
            <p role="alert" data-testid="secrets-warning">
              <strong>No keyring:</strong> {st.warning}
            </p>
          ) : (
            <span data-testid="secrets-where">Secrets ({what}) are encrypted by the OS keychain when remembered; the project file never holds them. </span>
          )}
          <label className="inline">
            <input type="checkbox" checked={sec.remember} onChange={(e) => setRemember(e.target.checked)} data-testid="secrets-remember" />
            Remember them on this computer
          </label>
          {st.backend === 'basic_text' && sec.remember ? (
            <label className="inline">
              <input type="checkbox" checked={sec.allowPlainText} onChange={(e) => setAllowPlainText(e.target.checked)} data-testid="secrets-allow-plain" />
              I understand they are stored unprotected
            </label>
          ) : null}
        </>
      )}
      {remembered > 0 ? (
        <span>
          {' '}
          {remembered} remembered{st.unreadable.length > 0 ? ` (${st.unreadable.length} no longer readable: the keychain changed; type them again)` : ''}.{' '}
          <button type="button" className="link" onClick={() => void forget([...st.stored, ...st.unreadable])} data-testid="secrets-forget">
            Forget them
          </button>
        </span>
      ) : null}
      {st.warning && st.backend === 'keychain' ? <span> {st.warning}</span> : null}
    </div>
  );
}
