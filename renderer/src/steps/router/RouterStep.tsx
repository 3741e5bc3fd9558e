import { ROUTER_KINDS, type ProjectInput } from '../../../../shared/model/project';
import { ROUTER_LABELS, routerSnippetOf, type RouterKind } from '../../../../shared/gen/router-snippet';
import { offerDownload } from '../../components/files';
import { ServePanel } from '../upload/ServePanel';
import { useApp } from '../../store/index';
import { identityOutput } from '../../store/identity-slice';
import { routerVerdict, type Firmware } from '../../store/router-slice';

type Subnet = NonNullable<ProjectInput['router']['subnet']>;

/** The subnet's fields, named in words (the project calls them router.subnet.*). */
const SUBNET_WORDS: Record<string, string> = {
  'router.subnet.cidr': 'Your network',
  'router.subnet.rangeStart': 'First address the router hands out',
  'router.subnet.rangeEnd': 'Last address the router hands out',
  'router.subnet.gateway': 'Gateway',
  'router.subnet.interface': 'Interface',
};

/** The network the workstations are on, in words: what is missing or wrong, or undefined when it is fine. */
export function subnetMessage(subnet: Subnet | undefined, errors: Array<{ field: string; message: string }>): string | undefined {
  if (!subnet || !subnet.cidr) return 'Bootchain does not know your network yet. Enter it (like 192.168.1.0/24) to get the proxyDHCP file for a dnsmasq beside your router; the snippet above works without it.';
  const e = errors.filter((x) => x.field.startsWith('router.subnet'));
  if (e.length === 0) return undefined;
  return e.map((x) => `${SUBNET_WORDS[x.field] ?? 'Network'}: ${x.message}`).join('; ');
}

function CheckResult({ fw }: { fw: Firmware }) {
  const j = useApp((s) => s.routerCheck[fw]);
  const v = routerVerdict(j);
  if (v.status === 'idle') return null;
  const name = fw === 'uefi' ? 'UEFI' : 'BIOS';
  const cls = v.status === 'pass' ? 'notice ok' : v.status === 'fail' ? 'notice warn' : 'notice';
  return (
    <div className={cls} data-testid={`router-check-${fw}`} data-status={v.status}>
      <strong>
        {name}: {v.status === 'running' ? 'asking…' : v.status === 'pass' ? '✓ the router answers as it should' : v.status === 'fail' ? '✗ the router does not answer as it should' : 'not probed'}
      </strong>
      <ul className="small">
        {v.lines.map((l) => (
          <li key={l.what} data-status={l.status}>
            {l.what}: {l.summary}
            {l.fix && l.status !== 'pass' ? (
              <div data-testid={`router-fix-${fw}`}>
                <strong>Fix:</strong> {l.fix}
              </div>
            ) : null}
          </li>
        ))}
      </ul>
    </div>
  );
}

/** Router step: the router kind chosen once, its one snippet and where it goes, the check, or proxyDHCP instead. */
export function RouterStep() {
  const id = useApp((s) => s.identity);
  const setProjectField = useApp((s) => s.setProjectField);
  const check = useApp((s) => s.startRouterCheck);
  const rc = useApp((s) => s.routerCheck);
  const resetCheck = useApp((s) => s.resetRouterCheck);
  const p = id.project;
  const kind = (p.router.kind ?? 'dnsmasq') as RouterKind;
  const snippet = routerSnippetOf(p, kind);
  const out = identityOutput(id);
  const subnet = p.router.subnet;
  const setSubnet = (patch: Partial<Subnet>) => {
    const next = { cidr: '', rangeStart: '', rangeEnd: '', ...subnet, ...patch } as Subnet;
    const empty = !next.cidr && !next.rangeStart && !next.rangeEnd;
    setProjectField({ router: { ...p.router, subnet: empty ? undefined : next } });
  };
  const msg = subnetMessage(subnet, out.errors);
  const running = rc.bios.status === 'running' || rc.uefi.status === 'running';
  return (
    <section className="step" data-testid="step-router">
      <h2>Your router</h2>
      <p className="lead">
        The workstations learn where to boot from DHCP. Tell your router once — or leave it alone and answer the boot requests from this computer
        (below).
      </p>
      <label>
        My router (its DHCP server)
        <select
          value={kind}
          onChange={(e) => {
            // Another router: the last check was of the old one's answers.
            resetCheck();
            setProjectField({ router: { ...p.router, kind: e.target.value as RouterKind } });
          }}
          data-testid="router-kind"
        >
          {ROUTER_KINDS.map((k) => (
            <option key={k} value={k}>
              {ROUTER_LABELS[k]}
            </option>
          ))}
        </select>
      </label>

      {snippet.ok ? (
        <div className="file-view" data-testid="router-snippet">
          <h3>Where it goes</h3>
          <ol data-testid="router-where">
            {snippet.value.where.map((w) => (
              <li key={w}>{w}</li>
            ))}
          </ol>
          <div className="actions">
            <strong data-testid="router-file">{snippet.value.file}</strong>
            <button type="button" onClick={() => void navigator.clipboard?.writeText(snippet.value.text)} data-testid="router-copy">
              Copy
            </button>
            <button type="button" onClick={() => offerDownload(snippet.value.file, 'text/plain', snippet.value.text)} data-testid="router-save">
              Save…
            </button>
          </div>
          <pre data-testid="router-text">{snippet.value.text}</pre>
        </div>
      ) : (
        <p className="field-error" data-testid="router-blocked">
          {snippet.reason}
        </p>
      )}

      <h3>Your network</h3>
      <div className="grid3">
        <label>
          Network (like 192.168.1.0/24)
          <input value={subnet?.cidr ?? ''} placeholder="192.168.1.0/24" onChange={(e) => setSubnet({ cidr: e.target.value.trim() })} data-testid="router-subnet" />
        </label>
        <label>
          First address the router hands out
          <input value={subnet?.rangeStart ?? ''} placeholder="192.168.1.100" onChange={(e) => setSubnet({ rangeStart: e.target.value.trim() })} data-testid="router-range-start" />
        </label>
        <label>
          Last address the router hands out
          <input value={subnet?.rangeEnd ?? ''} placeholder="192.168.1.200" onChange={(e) => setSubnet({ rangeEnd: e.target.value.trim() })} data-testid="router-range-end" />
        </label>
      </div>
      {msg ? (
        <p className={subnet?.cidr ? 'field-error' : 'muted small'} role={subnet?.cidr ? 'alert' : undefined} data-testid="router-subnet-message">
          {msg}
        </p>
      ) : null}

      <h3>Check my router</h3>
      <p className="small muted">
        Asks DHCP as a workstation would — as its BIOS and UEFI firmware, then as iPXE — with the same probe as Verify. Nothing is leased.
      </p>
      <button type="button" className="primary" onClick={() => void check()} disabled={running || !(p.workstations ?? []).length} data-testid="router-check">
        {running ? 'Checking…' : 'Check my router'}
      </button>
      <CheckResult fw="bios" />
      <CheckResult fw="uefi" />

      <h3>Or leave the router alone</h3>
      <p className="small">Serve from this computer: switch on proxyDHCP below; the router keeps handing out addresses and is not changed.</p>
      <ServePanel />
    </section>
  );
}
