import { act, cleanup, fireEvent, render, screen, waitFor } from '@testing-library/react';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleProject } from '../../../../shared/gen/fixtures';
import { listInterfaces } from '../../../../electron/services/net/interfaces';
import { inProcessApi } from '../../../test/in-process-api';
import { setApi } from '../../api/client';
import { useApp } from '../../store/index';
import { VerifyStep } from './VerifyStep';

// The renderer calls the real handlers in-process; nothing is faked. No walk is started here
// (that would reach the project's servers): the interface the step sends is checked by the
// handler before any job exists.

afterEach(() => cleanup());

describe('Verify step: where the DHCP DISCOVERs go', () => {
  it("lists this computer's interfaces, and the chosen one reaches verify:start (an unknown one is refused with the list)", async () => {
    setApi(inProcessApi());
    useApp.setState((s) => ({ identity: { ...s.identity, project: sampleProject() } }));
    render(<VerifyStep />);
    const select = (await screen.findByTestId('verify-interface')) as HTMLSelectElement;
    const names = listInterfaces()
      .filter((i) => !i.internal && i.subnets.length > 0)
      .map((i) => i.name);
    await waitFor(() => expect([...select.options].map((o) => o.value)).toEqual(['', ...names]));
    expect(select.options[0]!.textContent).toMatch(/default route/);
    // A name the machine does not have (e.g. a project opened on another computer).
    act(() => useApp.getState().setVerify({ interface: 'nosuch0' }));
    fireEvent.click(screen.getByTestId('verify-start'));
    const box = await screen.findByTestId('verify-error');
    expect(box.textContent).toMatch(/no interface "nosuch0"/);
    expect(box.textContent).toMatch(/Choose the interface on the workstations' network/);
    expect(useApp.getState().verify.jobId).toBeUndefined();
  });
});
