import { VM_STAGES, type VmIpxe } from '../../../../shared/vm';
import { ErrorBox } from '../../components/ErrorBox';
import { useApp } from '../../store/index';

const IPXE_KIND: Record<VmIpxe['kind'], string> = { 'nic-rom': "NIC's ROM", built: "Bootchain's build", stock: 'stock iPXE' };

/** One-click VM test boot: a QEMU workstation with this MAC netboots; how far it got, and its console. */
export function VmBoot() {
  const vm = useApp((s) => s.vm);
  const setVm = useApp((s) => s.setVm);
  const startVm = useApp((s) => s.startVm);
  const cancelVm = useApp((s) => s.cancelVm);
  const running = vm.status === 'running';
  return (
    <div className="vmboot" data-testid="vm-boot">
      <h3>Test boot in a virtual machine</h3>
      <p className="small">
        QEMU boots a virtual workstation with this MAC and firmware (SeaBIOS, or OVMF for UEFI). Under software emulation a boot takes
        10–30 s.
      </p>
      <div className="grid2">
        <label>
          Network
          <select value={vm.network} onChange={(e) => setVm({ network: e.target.value as 'user' | 'tap' })} data-testid="vm-network">
            <option value="user">dry run: QEMU's own DHCP/TFTP serve the project's files</option>
            <option value="tap">a tap device on the LAN bridge: the real servers answer</option>
          </select>
        </label>
        {vm.network === 'tap' ? (
          <label>
            Tap device (made once for you: see Rights above)
            <input value={vm.ifname} onChange={(e) => setVm({ ifname: e.target.value })} data-testid="vm-tap" />
          </label>
        ) : null}
      </div>
      <div className="actions">
        <button type="button" disabled={running} onClick={() => void startVm()} data-testid="vm-start">
          {running ? 'Booting…' : 'Boot it in a VM'}
        </button>
        {running ? (
          <button type="button" onClick={() => void cancelVm()} data-testid="vm-cancel">
            Stop
          </button>
        ) : null}
      </div>
      {vm.error ? <ErrorBox error={vm.error} testId="vm-error" /> : null}
      {vm.stages.length > 0 || running ? (
        <ol className="vm-stages" data-testid="vm-stages">
          {VM_STAGES.map(({ id, what }) => {
            const st = vm.stages.find((x) => x.id === id);
            const stopped = !st && vm.result?.failure?.stage === id ? vm.result.failure : undefined;
            return (
              <li key={id} className={st ? 'ok' : stopped ? 'fail' : ''} data-testid={`vm-stage-${id}`} data-reached={st ? 'yes' : 'no'}>
                {st ? '✓' : stopped ? '✗' : '·'} {what}
                {st ? <span className="small mono"> {(st.atMs / 1000).toFixed(1)} s {st.line !== '(implied)' ? `— ${st.line}` : '(implied by a later stage)'}</span> : null}
                {stopped ? (
                  <span className="small mono" data-testid="vm-failure">
                    {' '}
                    — {stopped.line}
                    {stopped.why ? ` (${stopped.why})` : ''}
                  </span>
                ) : null}
              </li>
            );
          })}
        </ol>
      ) : null}
      {vm.result?.ipxe && vm.result.ipxe.length > 0 ? (
        <div data-testid="vm-ipxe">
          <strong>Which iPXE ran</strong>
          <ol className="small">
            {vm.result.ipxe.map((x, i) => (
              <li key={i} data-testid="vm-ipxe-run" data-kind={x.kind}>
                {IPXE_KIND[x.kind]}: {x.what}
              </li>
            ))}
          </ol>
        </div>
      ) : null}
      {vm.result ? (
        <details className="log" open={vm.result.reached !== 'booted'}>
          <summary data-testid="vm-result">
            Reached: {VM_STAGES.find((s) => s.id === vm.result!.reached)?.what ?? 'nothing'} ({vm.result.ended}, {(vm.result.durationMs / 1000).toFixed(1)} s) — console
          </summary>
          <pre data-testid="vm-console">{vm.result.console.slice(-4000)}</pre>
        </details>
      ) : null}
    </div>
  );
}
