/** A job's log lines, folded away under a summary with the line count. */
export function LogBox({ title, lines, testId }: { title: string; lines: string[]; testId: string }) {
  if (lines.length === 0) return null;
  return (
    <details className="log">
      <summary>
        {title} ({lines.length} lines)
      </summary>
      <pre data-testid={testId}>{lines.join('\n')}</pre>
    </details>
  );
}
