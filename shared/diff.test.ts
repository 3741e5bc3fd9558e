import { describe, expect, it } from 'vitest';
import { fileChanges, lineDiff } from './diff';

describe('line diff', () => {
  it('keeps common lines and marks removed and added ones', () => {
    expect(lineDiff('a\nb\nc', 'a\nx\nc')).toEqual([
      { op: ' ', line: 'a' },
      { op: '-', line: 'b' },
      { op: '+', line: 'x' },
      { op: ' ', line: 'c' },
    ]);
  });
  it('lists added, removed and changed files, with context around the change only', () => {
    const before = { 'same.ipxe': 'x', 'gone.ipxe': 'g', 'ws.ipxe': ['1', '2', '3', '4', '5', '6', 'sanboot old', '8'].join('\n') };
    const after = { 'same.ipxe': 'x', 'new.ipxe': 'n', 'ws.ipxe': ['1', '2', '3', '4', '5', '6', 'sanboot new', '8'].join('\n') };
    const c = fileChanges(before, after, 1);
    expect(c.map((x) => [x.file, x.kind])).toEqual([
      ['gone.ipxe', 'removed'],
      ['new.ipxe', 'added'],
      ['ws.ipxe', 'changed'],
    ]);
    expect(c[2]!.diff).toEqual([
      { op: ' ', line: '6' },
      { op: '-', line: 'sanboot old' },
      { op: '+', line: 'sanboot new' },
      { op: ' ', line: '8' },
    ]);
  });
});
