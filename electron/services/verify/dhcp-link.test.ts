import { describe, expect, it } from 'vitest';
import { sampleProject } from '../../../shared/gen/fixtures';
import { loadProject, type ProjectInput } from '../../../shared/model/project';
import { proxyReply } from '../bootserver/proxydhcp';
import { buildDiscover, Msg, parseReply } from '../dhcp/packet';
import { judgeFirmwareOffers, knownServers, type Offer } from './dhcp-link';

// Who is whose, from what the project knows (sampleProject: router/gateway 10.77.0.1, NAS
// 10.77.0.20) and this computer's address (10.77.0.10). The lab test
// (e2e/verify/dhcp-servers.int.test.ts) runs the same against real dnsmasq servers and Bootchain's
// proxyDHCP; these cover the ways of knowing a server that the lab's layout does not reach.
const HERE = '10.77.0.10';
const project = (over: Partial<ProjectInput> = {}) => {
  const r = loadProject(sampleProject(over));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.value;
};
const mac = '52:54:00:12:34:56';

/** A DHCP server's OFFER as the client decodes it. */
function offer(server: string, o: { yiaddr?: string; nextServer?: string; file?: string } = {}): Offer {
  return { op: 2, xid: 1, type: Msg.Offer, yiaddr: o.yiaddr ?? '10.77.0.150', siaddr: o.nextServer ?? '0.0.0.0', sname: '', file: o.file ?? '', chaddr: mac, options: new Map(), serverId: server, from: server };
}
/** Bootchain's proxyDHCP answer, built by the proxy's own code and decoded by the client's. */
function proxyOffer(address: string, file = 'undionly.kpxe'): Offer {
  const req = buildDiscover({ xid: 1, mac, arch: 0 });
  const raw = proxyReply(parseReply(req), req, Msg.Offer, file, { address, biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', ipxeFile: 'default.ipxe', userClass: 'bootchain' }, []);
  return { ...parseReply(raw), from: address };
}
const judge = (offers: Offer[], p = project()) => judgeFirmwareOffers(offers, knownServers(p, ['127.0.0.1', HERE]), { p, uefi: false, sent: 'DISCOVER', waitMs: 4000 });

describe('DHCP link: whose server is whose', () => {
  it("a router that only gives addresses beside Bootchain's proxyDHCP on this computer is the intended setup", () => {
    const d = judge([offer('10.77.0.1'), proxyOffer(HERE)]);
    expect(d.status).toBe('pass');
    expect(d.summary).toBe(`10.77.0.1 gives the address, proxyDHCP ${HERE} offers undionly.kpxe from ${HERE}`);
    expect(d.offer?.from).toBe(HERE);
  });

  it('a router of unknown address is the project\'s when its PXE options point at the NAS; the stranger is named', () => {
    const p = project({ router: { kind: 'dnsmasq', rootPath: '' } });
    const d = judge([offer('10.77.0.77'), offer('10.77.0.5', { nextServer: '10.77.0.20', file: 'undionly.kpxe' })], p);
    expect(d.status).toBe('fail');
    expect(d.fix).toMatch(/^Keep one DHCP server on this network: switch off DHCP on 10\.77\.0\.77 \(not the project's: it gives no boot file\)/);
    expect(d.fix).toContain("10.77.0.5 (its PXE options point at the project's NAS 10.77.0.20) stays");
    expect(d.fix).toContain('here 10.77.0.77 answered first');
    expect(d.offer?.from).toBe('10.77.0.5');
  });

  it('the router known by its address (the gateway) stays even when its PXE options are wrong', () => {
    const d = judge([offer('10.77.0.1', { nextServer: '10.77.0.99', file: 'x.kpxe' }), offer('10.77.0.60', { nextServer: '10.77.0.60', file: 'pxelinux.0' })]);
    expect(d.fix).toMatch(/switch off DHCP on 10\.77\.0\.60 \(not the project's: it sends PXE clients to 10\.77\.0\.60 for pxelinux\.0\)/);
    expect(d.fix).toContain("10.77.0.1 (the project's router) stays");
  });

  it('a copy of the config on another box is the one to switch off; the server the project knows stays', () => {
    const d = judge([offer('10.77.0.20', { nextServer: '10.77.0.20', file: 'undionly.kpxe' }), offer('10.77.0.70', { nextServer: '10.77.0.20', file: 'undionly.kpxe' })]);
    expect(d.summary).toBe("2 DHCP servers answer: 10.77.0.20 (the project's NAS) and 10.77.0.70 (its PXE options point at the project's NAS 10.77.0.20)");
    expect(d.fix).toMatch(/switch off DHCP on 10\.77\.0\.70 \(not known to the project, though its PXE options point at the project's NAS 10\.77\.0\.20\).*10\.77\.0\.20 \(the project's NAS\) stays/);
  });

  it('two servers the project cannot place: both listed, and how to let Bootchain tell', () => {
    const p = project({ router: { kind: 'dnsmasq', rootPath: '' } });
    const d = judge([offer('10.77.0.60'), offer('10.77.0.61', { nextServer: '10.77.0.61', file: 'pxelinux.0' })], p);
    expect(d.status).toBe('fail');
    expect(d.summary).toBe('2 DHCP servers answer: 10.77.0.60 (a stranger) and 10.77.0.61 (a stranger)');
    expect(d.fix).toMatch(/all of 10\.77\.0\.60 and 10\.77\.0\.61 but your router.*gateway/);
  });

  it('the only server that answered sends clients elsewhere: it is named, with the wait it had', () => {
    const d = judge([offer('10.77.0.60', { nextServer: '10.77.0.60', file: 'undionly.kpxe' })], project({ router: { kind: 'dnsmasq', rootPath: '' } }));
    expect(d.status).toBe('fail');
    expect(d.summary).toBe("10.77.0.60 sends PXE clients to 10.77.0.60, which is not the project's NAS 10.77.0.20");
    expect(d.fix).toMatch(/If 10\.77\.0\.60 is not your router, switch off its DHCP.*4000 ms/);
  });

  it("two proxyDHCP servers: the one that is not this computer's is the one to switch off", () => {
    const d = judge([offer('10.77.0.1'), proxyOffer('10.77.0.66'), proxyOffer(HERE)]);
    expect(d.status).toBe('warn');
    expect(d.fix).toBe(`Keep one proxyDHCP server: switch off the one on 10.77.0.66; ${HERE} (this computer) is the project's. Firmware takes whichever answers first.`);
  });

  it('router PXE options and a proxyDHCP naming the same boot server are no conflict; different ones are', () => {
    expect(judge([offer('10.77.0.1', { nextServer: HERE, file: 'undionly.kpxe' }), proxyOffer(HERE)]).status).toBe('pass');
    const d = judge([offer('10.77.0.1', { nextServer: '10.77.0.20', file: 'undionly.kpxe' }), proxyOffer(HERE)]);
    expect(d.status).toBe('fail');
    expect(d.summary).toBe(`Two boot servers answer PXE clients: the DHCP server 10.77.0.1 (the project's router) sends them to 10.77.0.20 for undionly.kpxe, the proxyDHCP ${HERE} (this computer) to ${HERE} for undionly.kpxe`);
    // A proxyDHCP elsewhere is switched off there, not "on this computer".
    expect(judge([offer('10.77.0.1', { nextServer: '10.77.0.20', file: 'undionly.kpxe' }), proxyOffer('10.77.0.66')]).fix).toMatch(/switch off proxyDHCP on 10\.77\.0\.66\./);
  });
});
