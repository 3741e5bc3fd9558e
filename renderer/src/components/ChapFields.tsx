import type { ChapForm } from '../store/target-slice';

/** CHAP user/secret fields with an optional mutual part; secrets are password inputs. */
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
            <input type="password" value={value.secret} autoComplete="off" onChange={(e) => onChange({ secret: e.target.value })} data-testid={`${testId}-secret`} />
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
                <input type="password" value={value.mutualSecret} autoComplete="off" onChange={(e) => onChange({ mutualSecret: e.target.value })} data-testid={`${testId}-mutual-secret`} />
              </label>
            </>
          ) : null}
        </div>
      ) : null}
    </fieldset>
  );
}
