import { CHAIN_LINKS, type ChainLink, type LinkId, type LinkStatus } from '../../../../shared/verify';

/** A node's state: a link's verdict, the one being checked, or not reached yet. */
export type NodeState = LinkStatus | 'pending' | 'idle';

const COLOURS: Record<NodeState, { fill: string; stroke: string; text: string; label: string }> = {
  pass: { fill: '#dcfce7', stroke: '#16a34a', text: '#14532d', label: 'pass' },
  warn: { fill: '#fef3c7', stroke: '#d97706', text: '#78350f', label: 'warning' },
  fail: { fill: '#fee2e2', stroke: '#dc2626', text: '#7f1d1d', label: 'broken' },
  skip: { fill: '#f1f5f9', stroke: '#94a3b8', text: '#475569', label: 'not reached' },
  pending: { fill: '#e0f2fe', stroke: '#0284c7', text: '#0c4a6e', label: 'checking…' },
  idle: { fill: '#ffffff', stroke: '#cbd5e1', text: '#334155', label: 'not checked' },
};

/**
 * The boot chain drawn as a picture: one node per link, in boot order, snaking over two rows,
 * each coloured by its verdict; a click selects it (its evidence and fix show below). A node's
 * accessible name is its visible text (title and verdict), as axe's label-content-name-mismatch
 * rule asks; the picture is a group of buttons, not an image (nested-interactive). The watch draws
 * the same picture with its own words (`labels`) and ids (`idPrefix`: two pictures on one page).
 */
export function ChainPicture({
  links,
  running,
  selected,
  onSelect,
  idPrefix = 'node',
  labels,
  title = 'The boot chain',
}: {
  links: Partial<Record<LinkId, Pick<ChainLink, 'status'>>>;
  running: boolean;
  selected: string;
  onSelect: (id: LinkId) => void;
  idPrefix?: string;
  labels?: Partial<Record<NodeState, string>>;
  title?: string;
}) {
  const W = 150;
  const H = 64;
  const GAP = 46;
  const perRow = 5;
  const pos = (i: number) => {
    const row = Math.floor(i / perRow);
    const col = i % perRow;
    const x = 10 + (row % 2 === 0 ? col : perRow - 1 - col) * (W + GAP);
    return { x, y: 14 + row * (H + 56) };
  };
  const firstPending = CHAIN_LINKS.findIndex((l) => !links[l.id]);
  return (
    <svg className="chain" viewBox={`0 0 ${10 + perRow * (W + GAP)} ${2 * (H + 56) + 10}`} role="group" aria-label={title} data-testid={idPrefix === 'node' ? 'chain-picture' : `${idPrefix}-picture`}>
      <defs>
        <marker id={`${idPrefix}-arrow`} viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
          <path d="M 0 0 L 10 5 L 0 10 z" fill="#64748b" />
        </marker>
      </defs>
      {CHAIN_LINKS.slice(1).map((l, k) => {
        const a = pos(k);
        const b = pos(k + 1);
        const sameRow = a.y === b.y;
        const d = sameRow
          ? a.x < b.x
            ? `M ${a.x + W} ${a.y + H / 2} L ${b.x - 2} ${b.y + H / 2}`
            : `M ${a.x} ${a.y + H / 2} L ${b.x + W + 2} ${b.y + H / 2}`
          : `M ${a.x + W / 2} ${a.y + H} L ${b.x + W / 2} ${b.y - 2}`;
        return <path key={`e-${l.id}`} d={d} stroke="#64748b" strokeWidth="2" fill="none" markerEnd={`url(#${idPrefix}-arrow)`} />;
      })}
      {CHAIN_LINKS.map((l, i) => {
        const link = links[l.id];
        const state = link ? link.status : running && i === firstPending ? 'pending' : 'idle';
        const c = COLOURS[state];
        const { x, y } = pos(i);
        return (
          <g
            key={l.id}
            transform={`translate(${x},${y})`}
            onClick={() => onSelect(l.id)}
            onKeyDown={(e) => (e.key === 'Enter' || e.key === ' ' ? onSelect(l.id) : undefined)}
            role="button"
            tabIndex={0}
            aria-pressed={selected === l.id}
            data-testid={`${idPrefix}-${l.id}`}
            data-status={state}
            style={{ cursor: 'pointer' }}
          >
            <rect width={W} height={H} rx="10" fill={c.fill} stroke={c.stroke} strokeWidth={selected === l.id ? 4 : 2} />
            <text x={W / 2} y={26} textAnchor="middle" fontSize="14" fontWeight="600" fill={c.text}>
              {l.title}
            </text>
            <text x={W / 2} y={47} textAnchor="middle" fontSize="12" fill={c.text}>
              {labels?.[state] ?? c.label}
            </text>
          </g>
        );
      })}
    </svg>
  );
}
