/**
 * The DISCOVERs the walk sends as the workstation: as its firmware (the DHCP link, judged by
 * ./dhcp-link) and later as its iPXE (the settings the scripts run with). Nothing is leased
 * (DISCOVER only). dhcp-link.ts stays the pure judgement of offers; this is the network side.
 */
import { BootchainError } from '../../../shared/errors';
import { sha256 } from '../bootfiles/hash';
import { discoverOffers } from '../dhcp/client';
import { rootPathOf } from '../dhcp/packet';
import { describeOffer, fileOf, isProxyOffer, judgeFirmwareOffers, nextServerOf, ownerOf, serverOf, type Offer } from './dhcp-link';
import { errCode, errText, type Walk } from './walk';

/**
 * After the project's server has answered, how long offers must stop coming before the wait ends
 * early: a stranger a little slower than the project's server is still seen; one much slower is
 * seen with the full wait (a longer --dhcp-wait does not end early before the project's answer).
 */
const DHCP_QUIET_MS = 500;

/**
 * One DISCOVER as the workstation. It collects until the project's server has answered and the
 * offers have settled, at most dhcpWaitMs: a router slower than a stranger is still heard.
 * DISCOVERs go one at a time, as the firmware's and then iPXE's would (a busy server answers one
 * after the other).
 */
function discover(walk: Walk, userClass: string | undefined, ipxe: boolean): Promise<Offer[]> {
  const { o, servers } = walk;
  return discoverOffers(
    { mac: walk.mac, arch: walk.arch, uuid: Buffer.from(sha256(walk.w.mac).slice(0, 32), 'hex'), ...(userClass ? { userClass } : {}), ipxe },
    { timeoutMs: o.dhcpWaitMs, quietMs: Math.min(DHCP_QUIET_MS, o.dhcpWaitMs), enough: (xs) => xs.some((x) => ownerOf(x, servers) !== undefined), broadcast: walk.dhcpTo, signal: o.signal },
  );
}

/** Settings iPXE takes from a DHCP offer. */
function offerSettings(o: Offer): Record<string, string> {
  const s: Record<string, string> = { ip: o.yiaddr, 'next-server': nextServerOf(o), filename: fileOf(o) };
  const rp = rootPathOf(o);
  if (rp !== undefined && rp !== '') s['17'] = rp;
  const hn = o.options.get(12)?.toString('latin1').replace(/\0+$/, '');
  if (hn) s.hostname = hn;
  return s;
}

/** 1. DHCP as the firmware: the offers judged, and the next-server and boot file the walk goes on with. */
export async function dhcpLink(walk: Walk): Promise<boolean> {
  const { o, p, uefi, servers } = walk;
  if (!o.dhcp) {
    walk.set('dhcp', 'skip', 'DHCP was not probed (switched off): next-server and boot file taken from the project', [`next-server ${walk.nextServer}, file ${walk.bootFile}`]);
    return true;
  }
  try {
    const t1 = Date.now();
    const offers = await discover(walk, undefined, false);
    const sent = `DISCOVER as ${walk.w.mac}, PXEClient arch ${walk.arch} (${uefi ? 'UEFI x64' : 'BIOS'}), to ${walk.dhcpTo}${walk.dhcpVia ? ` (${walk.dhcpVia.name})` : ''}; offers collected for ${Date.now() - t1} ms (at most ${o.dhcpWaitMs})`;
    const d = judgeFirmwareOffers(offers, servers, { p, uefi, sent, waitMs: o.dhcpWaitMs });
    walk.set('dhcp', d.status, d.summary, d.evidence, d.fix);
    // The server the firmware goes on with is the project's: iPXE's answers from it are too.
    if (d.offer && !isProxyOffer(d.offer) && ownerOf(d.offer, servers)) servers.dhcp.set(serverOf(d.offer), ownerOf(d.offer, servers)!);
    walk.dhcpUsable = d.usable;
    walk.firmwareOffer = d.offer;
    if (d.offer && fileOf(d.offer)) {
      walk.nextServer = nextServerOf(d.offer);
      walk.bootFile = fileOf(d.offer);
    }
  } catch (e) {
    walk.dhcpUsable = false;
    const code = errCode(e);
    if (code === 'CANCELLED') throw e;
    walk.set('dhcp', code === 'PERMISSION_DENIED' || code === 'BUSY' ? 'skip' : 'fail', `DHCP could not be probed: ${errText(e)}`, [errText(e)], e instanceof BootchainError ? e.appError.hint : undefined);
  }
  return true;
}

/**
 * DHCP as iPXE (its user-class): the settings of the offer it goes on with, or undefined when
 * none answers. Each offer is kept as evidence in walk.ipxeOffers.
 */
export async function ipxeDhcp(walk: Walk, userClass: string | undefined): Promise<Record<string, string> | undefined> {
  const { p, servers } = walk;
  if (!walk.dhcpUsable) {
    // Not probed: assume the router runs the generated config (iPXE gets default.ipxe).
    walk.ipxeOffers.push(`DHCP not probed: assumed the generated config (iPXE gets default.ipxe${p.router.rootPath ? `, option 17 ${p.router.rootPath}` : ''})`);
    return { 'next-server': walk.nextServer, filename: 'default.ipxe', ...(p.router.rootPath ? { 17: p.router.rootPath } : {}) };
  }
  const offers = await discover(walk, userClass, true);
  const proxied = (x: Offer) => x.yiaddr === '0.0.0.0';
  // With a stranger answering too, the walk follows the project's server (the DHCP link names the stranger).
  const mine = offers.filter((x) => ownerOf(x, servers) !== undefined);
  const from = mine.length > 0 ? mine : offers;
  const pick = from.find((x) => !proxied(x) && (fileOf(x) !== '' || rootPathOf(x) !== undefined)) ?? from.find((x) => fileOf(x) !== '') ?? from[0];
  walk.ipxeOffers.push(...offers.map((x) => `as iPXE (user-class ${userClass ?? 'iPXE'}): ${describeOffer(x)}${mine.length > 0 && !mine.includes(x) ? " — not the project's" : ''}`));
  return pick ? offerSettings(pick) : undefined;
}
