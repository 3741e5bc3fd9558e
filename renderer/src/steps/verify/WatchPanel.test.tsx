import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleProject } from '../../../../shared/gen/fixtures';
import { generateFromRaw } from '../../../../shared/gen/artifacts';
import { watchMarkdown } from '../../../../shared/watch';
import { inProcessApi } from '../../../test/in-process-api';
import { setApi } from '../../api/client';
import { useApp } from '../../store/index';
import { WatchPanel } from './WatchPanel';

// The panel over the real handlers in-process: watch:start starts the real watch job, whose marker
// listener (the boot server's HTTP) gets the very requests the generated scripts make — each URL
// taken from the project's generated scripts' imgfetch lines, ${mac:hexhyp} expanded as iPXE does. Only loopback is
// used: DHCP is not listened to here and no boot stops (a stop would run Verify's check against
// the project's NAS), so the watch ends by watch:stop, with its report.

afterEach(() => cleanup());

const freePort = () =>
  new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
const get = (url: string) =>
  new Promise<number>((resolve, reject) => {
    http.get(url, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on('error', reject);
  });

/** The sample project with its markers on a free loopback port, the in-process API set. */
async function markersProject() {
  setApi(inProcessApi());
  const port = await freePort();
  const base = sampleProject();
  const project = { ...base, boot: { ...base.boot, watch: { markers: `http://127.0.0.1:${port}` } } };
  // The sample's second workstation uses CHAP: its secrets (the scripts need them).
  const secrets = { 'ws2.chap': 'WatchPanel-1234', 'ws2.chap-mutual': 'WatchPanel-5678' };
  return { port, project, secrets };
}

describe('Watch a boot panel', () => {
  it('the markers toggle writes boot.watch.markers at this address and port, and says to upload again', () => {
    setApi(inProcessApi());
    useApp.setState((s) => ({ identity: { ...s.identity, project: sampleProject() }, watch: { ...s.watch, address: '127.0.0.1', markersPort: '18299' } }));
    render(<WatchPanel />);
    const toggle = screen.getByTestId('watch-markers-toggle') as HTMLInputElement;
    expect(toggle.checked).toBe(false);
    fireEvent.click(toggle);
    expect((useApp.getState().identity.project.boot as { watch?: unknown }).watch).toEqual({ markers: 'http://127.0.0.1:18299' });
    expect(screen.getByTestId('watch-markers-note').textContent).toMatch(/report to http:\/\/127\.0\.0\.1:18299, .* at each stage\. Upload again so the scripts carry it/);
    expect(screen.getByTestId('watch-markers-line').textContent).toBe('imgfetch --timeout 2000 --name bcwatch http://127.0.0.1:18299/watch/${mac:hexhyp}/default && imgfree bcwatch ||');
    fireEvent.click(toggle);
    expect((useApp.getState().identity.project.boot as { watch?: unknown }).watch).toBeUndefined();
    expect(screen.getByTestId('watch-nas-note').textContent).toBe('NAS sessions: not polled (no SSH login in the Upload step)');
  });

  it('a live watch: the sources said, the stages light up as the scripts report, Stop gives the report to save', async () => {
    const { port, project, secrets } = await markersProject();
    const w = project.workstations![0]!;
    useApp.setState((s) => ({ identity: { ...s.identity, project, secrets }, watch: { ...s.watch, dhcp: false, skip: project.workstations!.slice(1).map((x) => x.name) } }));
    render(<WatchPanel />);
    fireEvent.click(screen.getByTestId('watch-start'));
    await waitFor(() => expect(screen.getByTestId('watch-source-marker').dataset.state).toBe('listening'));
    expect(screen.getByTestId('watch-source-marker').textContent).toContain(`http://127.0.0.1:${port}/watch/`);
    expect(screen.getByTestId('watch-source-dhcp').textContent).toBe('DHCP: off: not asked for');
    expect(screen.getByTestId('watch-source-nas').dataset.state).toBe('off');
    expect(screen.getByTestId(`watch-stage-${w.name}-default`).dataset.state).toBe('idle');

    // What iPXE fetches for each marker line of the generated scripts, with the workstation's ${mac:hexhyp}.
    const hexhyp = w.mac.toLowerCase().replace(/:/g, '-');
    const gen = generateFromRaw(project, secrets);
    if (!gen.ok) throw new Error(JSON.stringify(gen.errors));
    const urls = new Map<string, string>();
    for (const text of Object.values(gen.files)) for (const m of String(text).matchAll(/imgfetch [^\n]* (http:\/\/\S+\/watch\/\$\{mac:hexhyp\}\/([a-z-]+)) &&/g)) urls.set(m[2]!, m[1]!.replace('${mac:hexhyp}', hexhyp));
    expect([...urls.keys()].sort()).toEqual(['default', 'ipxe-dhcp', 'sanboot', 'station']);
    for (const marker of ['ipxe-dhcp', 'default', 'station']) {
      expect(await get(urls.get(marker)!)).toBe(200);
      const stage = marker === 'station' ? 'station' : marker;
      await waitFor(() => expect(screen.getByTestId(`watch-stage-${w.name}-${stage}`).dataset.state).toBe('reached'));
    }
    expect(screen.getByTestId(`watch-stage-${w.name}-default`).textContent).toMatch(/default\.ipxe fetched at [\d.]+ s \(Stage markers\): the script fetched its "default" marker/);
    // The picture: the links seen are reached (the stages before them implied), the next one awaited.
    expect(screen.getByTestId(`watch-node-${w.name}-station`).dataset.status).toBe('pass');
    expect(screen.getByTestId(`watch-node-${w.name}-embedded`).dataset.status).toBe('pass');
    expect(screen.getByTestId(`watch-node-${w.name}-bootfile`).dataset.status).toBe('pass');
    expect(screen.getByTestId(`watch-stage-${w.name}-bootfile`).textContent).toMatch(/implied by a later stage/);
    expect(screen.getByTestId(`watch-node-${w.name}-portal`).dataset.status).toBe('pending');
    expect(screen.getByTestId('watch-evidence').textContent).toMatch(/marker +\S+: the script fetched its "station" marker/);
    // Foreign MACs are not this watch's: counted as dropped in the report.
    expect(await get(`http://127.0.0.1:${port}/watch/02-00-00-00-00-99/default`)).toBe(200);

    fireEvent.click(screen.getByTestId('watch-stop'));
    await waitFor(() => expect(screen.getByTestId('watch-export-md')).toBeTruthy());
    const r = useApp.getState().watch.result!;
    expect(r.ended).toBe('stopped');
    expect(r.dropped['marker:foreign']).toBe(1);
    expect(r.stations.map((t) => t.station)).toEqual([w.name]);
    expect(screen.getByTestId('watch-status').textContent).toMatch(/The watch ended \(stopped\)/);
    expect(screen.getByTestId(`watch-verdict-${w.name}`).textContent).toBe('booting…');
    const md = watchMarkdown(r);
    expect(md).toMatch(new RegExp(`## ${w.name} \\(${w.mac}\\): not finished`));
    expect(md).toMatch(/\| [\d.]+ s \| the per-MAC script fetched \| marker \|/);
  });

  it('Cancel ends the watch without a report (jobs:cancel), and its listener is gone', async () => {
    const { port, project, secrets } = await markersProject();
    useApp.setState((s) => ({ identity: { ...s.identity, project, secrets }, watch: { ...s.watch, dhcp: false, skip: [], result: undefined } }));
    render(<WatchPanel />);
    fireEvent.click(screen.getByTestId('watch-start'));
    await waitFor(() => expect(screen.getByTestId('watch-source-marker').dataset.state).toBe('listening'));
    // Both workstations are watched (none skipped): each has its (empty) timeline.
    expect(screen.getByTestId('watch-stage-ws2-station').dataset.state).toBe('idle');
    fireEvent.click(screen.getByTestId('watch-cancel'));
    await waitFor(() => expect(useApp.getState().watch.status).toBe('cancelled'));
    expect(screen.getByTestId('watch-status').textContent).toBe('The watch was cancelled (no report).');
    expect(screen.queryByTestId('watch-export-md')).toBeNull();
    await expect(get(`http://127.0.0.1:${port}/watch/00-00-00-00-00-01/default`)).rejects.toThrow(/ECONNREFUSED/);
    act(() => undefined);
  });
});
