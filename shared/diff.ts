/**
 * Line diffs of generated files (the reconfigure view: what changes on the NAS and in the router
 * config when a workstation is changed). Plain LCS: the files are small.
 */

export interface DiffLine {
  op: ' ' | '-' | '+';
  line: string;
}

/** The lines of `a` and `b` as kept ( ), removed (-) and added (+). */
export function lineDiff(a: string, b: string): DiffLine[] {
  const x = a.split('\n');
  const y = b.split('\n');
  const n = x.length;
  const m = y.length;
  // lcs[i][j]: length of the longest common subsequence of x[i..] and y[j..].
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: DiffLine[] = [];
  let i = 0;
  let j = 0;
  while (i < n && j < m) {
    if (x[i] === y[j]) {
      out.push({ op: ' ', line: x[i]! });
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push({ op: '-', line: x[i++]! });
    else out.push({ op: '+', line: y[j++]! });
  }
  while (i < n) out.push({ op: '-', line: x[i++]! });
  while (j < m) out.push({ op: '+', line: y[j++]! });
  return out;
}

export interface FileChange {
  file: string;
  kind: 'added' | 'removed' | 'changed';
  diff: DiffLine[];
}

/** Which files differ between two generated sets, with their line diffs (context kept short). */
export function fileChanges(before: Record<string, string>, after: Record<string, string>, context = 2): FileChange[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const out: FileChange[] = [];
  for (const file of names) {
    const a = before[file];
    const b = after[file];
    if (a === b) continue;
    const diff = lineDiff(a ?? '', b ?? '');
    // Keep changed lines and `context` lines around them.
    const keep = diff.map((d, k) => d.op !== ' ' || diff.slice(Math.max(0, k - context), k + context + 1).some((e) => e.op !== ' '));
    out.push({ file, kind: a === undefined ? 'added' : b === undefined ? 'removed' : 'changed', diff: diff.filter((_, k) => keep[k]) });
  }
  return out;
}
