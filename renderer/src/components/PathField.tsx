import { useState, type ReactNode } from 'react';
import type { DialogOpenInput } from '../../../shared/dialog';
import { api } from '../api/client';

/**
 * A path on this computer: the text field and a "Choose…" button beside it that opens the file
 * dialog (Electron's, through dialog:open). Where there is none (the browser harness), the button
 * says so and the path is typed.
 */
export function PathField(props: { label: ReactNode; kind: DialogOpenInput['kind']; value: string; placeholder?: string; onChange(v: string): void; testId: string }) {
  const [note, setNote] = useState<string | undefined>();
  const choose = async () => {
    setNote(undefined);
    const r = await api().invoke('dialog:open', { kind: props.kind, ...(props.value.trim() ? { defaultPath: props.value.trim() } : {}) });
    if (!r.ok) return setNote(r.error.message);
    if ('path' in r.value) props.onChange(r.value.path);
    else if ('unsupported' in r.value) setNote(r.value.unsupported);
  };
  return (
    <div className="wide">
      <div style={{ display: 'flex', gap: 8, alignItems: 'flex-end' }}>
        <label style={{ flex: 1 }}>
          {props.label}
          <input value={props.value} placeholder={props.placeholder} onChange={(e) => props.onChange(e.target.value)} data-testid={props.testId} />
        </label>
        <button type="button" onClick={() => void choose()} data-testid={`${props.testId}-choose`} aria-label={`Choose ${props.kind === 'folder' ? 'the folder' : 'the file'} in a dialog`}>
          Choose…
        </button>
      </div>
      {note ? (
        <div className="small muted" role="status" data-testid={`${props.testId}-note`}>
          {note}
        </div>
      ) : null}
    </div>
  );
}
