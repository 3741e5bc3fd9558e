import { useState } from 'react';
import type { ChapForm } from '../store/target-slice';

/** A secret's input: masked, with a Show/Hide toggle, and (given `check`) its verdict as you type. */
export function SecretInput({
  value,
  onChange,
  testId,
  check,
}: {
  value: string;
  onChange: (v: string) => void;
  testId: string;
  check?: ((v: string) => { level: 'error' | 'warn' | 'ok'; text: string }) | undefined;
}) {
  const [shown, setShown] = useState(false);
  const verdict = check?.(value);
  return (
    <>
      <span className="secret-input">
        <input
          type={shown ? 'text' : 'password'}
          value={value}
          autoComplete="off"
          spellCheck={false}
          onChange={(e) => onChange(e.target.value)}
          data-testid={testId}
          aria-invalid={verdict?.level === 'error' ? true : undefined}
        />
        <button type="button" className="small" onClick={() => setShown(!shown)} aria-pressed={shown} data-testid={`${testId}-show`}>
          {shown ? 'Hide' : 'Show'}
        </button>
      </span>
      {verdict ? (
        <span className={`secret-check ${verdict.level}`} role={verdict.level === 'error' ? 'alert' : undefined} data-testid={`${testId}-check`} data-level={verdict.level}>
          {verdict.text}
        </span>
      ) : null}
    </>
  );
}

/** CHAP user/secret fields with an optional mutual part; secrets are masked inputs with a Show toggle. */
export function ChapFields({ value, onChange, testId, title }: { value: ChapForm; onChange: (p: Partial<ChapForm>) => void; testId: string; title: string }) {
  return (
    <fieldset className="chap" data-testid={testId}>
      <label className="inline">
        <input type="checkbox" checked={value.enabled} onChange={(e) => onChange({ enabled: e.target.checked })} data-testid={`${testId}-enabled`} />
        {title}
      </label>
      {value.enabled ? (
        <div className="chap-fields">
          <label>
            CHAP user
            <input value={value.username} autoComplete="off" onChange={(e) => onChange({ username: e.target.value })} data-testid={`${testId}-user`} />
          </label>
          <label>
            CHAP secret
            <SecretInput value={value.secret} onChange={(v) => onChange({ secret: v })} testId={`${testId}-secret`} />
          </label>
          <label className="inline">
            <input type="checkbox" checked={value.mutual} onChange={(e) => onChange({ mutual: e.target.checked })} data-testid={`${testId}-mutual`} />
            Mutual CHAP (the target proves itself too)
          </label>
          {value.mutual ? (
            <>
              <label>
                Target user (optional)
                <input value={value.mutualUsername} autoComplete="off" onChange={(e) => onChange({ mutualUsername: e.target.value })} data-testid={`${testId}-mutual-user`} />
              </label>
              <label>
                Target secret
                <SecretInput value={value.mutualSecret} onChange={(v) => onChange({ mutualSecret: v })} testId={`${testId}-mutual-secret`} />
              </label>
            </>
          ) : null}
        </div>
      ) : null}
    </fieldset>
  );
}
