/**
 * The verifier's DHCP link: whose offers these are — the project's own server (its router, its
 * NAS, its boot server or Bootchain's proxyDHCP on this computer) or a stranger's — and what the
 * firmware makes of them. A stranger is named as the one to switch off, never the project's own
 * server, whichever answered first; two boot servers at once (the router's PXE options and a
 * proxyDHCP pointing elsewhere) are a conflict.
 */
import type { Project } from '../../../shared/model/project';
import type { LinkStatus } from '../../../shared/verify';
import { rootPathOf, type DhcpReply } from '../dhcp/packet';

/** An offer as the verifier collected it, with the address it came from. */
export type Offer = DhcpReply & { from: string };

const text = (o: Offer, code: number) => o.options.get(code)?.toString('latin1').replace(/\0+$/, '');

/** The DHCP server that sent an offer: option 54, else the packet's source. */
export const serverOf = (o: Offer) => o.serverId ?? o.from;
/** next-server of an offer: siaddr, else option 66, else the server itself. */
export const nextServerOf = (o: Offer) => (o.siaddr && o.siaddr !== '0.0.0.0' ? o.siaddr : (text(o, 66) ?? serverOf(o)));
/** The boot file of an offer: the file field, else option 67. */
export const fileOf = (o: Offer) => o.file || text(o, 67) || '';
export const describeOffer = (o: Offer) =>
  `offer from ${serverOf(o)}: address ${o.yiaddr}, next-server ${nextServerOf(o)}, file "${fileOf(o)}"${rootPathOf(o) !== undefined ? `, option 17 "${rootPathOf(o)}"` : ', no option 17'}`;
/** A proxyDHCP answer (PXE 2.1 §2.2.4): PXEClient, no address offered. */
export const isProxyOffer = (o: Offer) => o.yiaddr === '0.0.0.0' && (text(o, 60) ?? '').startsWith('PXEClient');

const urlHost = (s: string) => /^(?:https?|tftp):\/\/([^/:]+)/.exec(s)?.[1];
/** Where an offer sends PXE clients: the host of a URL boot file, else next-server. */
const bootServerOf = (o: Offer) => urlHost(fileOf(o)) ?? nextServerOf(o);
/** next-server as the offer states it (siaddr or option 66), without falling back to the server. */
const statedNextServer = (o: Offer) => urlHost(fileOf(o)) ?? (o.siaddr && o.siaddr !== '0.0.0.0' ? o.siaddr : text(o, 66));

/** The servers the project knows, by address, each with what it is. */
export interface KnownServers {
  /** DHCP servers known by address: the router (the subnet's gateway) and the NAS. */
  dhcp: Map<string, string>;
  /** Where the project's boot files are served: the NAS, the root path's host, this computer. */
  boot: Map<string, string>;
}

/** What the project says about its servers; `local` are this computer's addresses. */
export function knownServers(p: Project, local: string[]): KnownServers {
  const dhcp = new Map<string, string>();
  const boot = new Map<string, string>();
  const gw = p.router.subnet?.gateway;
  if (gw) dhcp.set(gw, gw === p.nas.address ? "the project's router and NAS" : "the project's router");
  if (!dhcp.has(p.nas.address)) dhcp.set(p.nas.address, "the project's NAS");
  boot.set(p.nas.address, dhcp.get(p.nas.address)!);
  const rp = urlHost(p.router.rootPath);
  if (rp && !boot.has(rp)) boot.set(rp, "the project's root-path server");
  for (const a of local) if (!boot.has(a)) boot.set(a, 'this computer');
  return { dhcp, boot };
}

/**
 * Whose offer this is: what it is to the project, or undefined for a stranger. A DHCP server is
 * the project's when the project knows its address, or when its PXE options send clients to the
 * project's boot server; a proxyDHCP when it runs on a boot server of the project (Bootchain's
 * "Serve from this computer" is this computer).
 */
export function ownerOf(o: Offer, k: KnownServers): string | undefined {
  const server = serverOf(o);
  if (isProxyOffer(o)) return k.boot.get(server);
  const byAddress = k.dhcp.get(server);
  if (byAddress) return byAddress;
  const to = statedNextServer(o);
  return fileOf(o) !== '' && to !== undefined && k.boot.has(to) ? `its PXE options point at ${k.boot.get(to)} ${to}` : undefined;
}

/** The DHCP link's verdict and the offer the firmware goes on with. */
export interface DhcpVerdict {
  status: LinkStatus;
  summary: string;
  evidence: string[];
  fix?: string | undefined;
  /** The offer whose boot file the walk follows (the project's own when a stranger answers too). */
  offer?: Offer | undefined;
  /** False when no DHCP server answered: the rest is checked from the project's settings. */
  usable: boolean;
}

export interface FirmwareContext {
  p: Project;
  uefi: boolean;
  /** The DISCOVER as sent (MAC, architecture, where it went, how long offers were collected). */
  sent: string;
  /** How long offers were collected at most, ms (said when the project's server was not heard). */
  waitMs: number;
}

const unique = (xs: string[]) => [...new Set(xs)];
const list = (xs: string[]) => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs.at(-1)}`);

/** Judges the offers the firmware's DISCOVER got (arrival order). */
export function judgeFirmwareOffers(offers: Offer[], k: KnownServers, c: FirmwareContext): DhcpVerdict {
  const { p, uefi } = c;
  const expectedFile = uefi ? p.boot.uefiFile : p.boot.biosFile;
  const otherFile = uefi ? p.boot.biosFile : p.boot.uefiFile;
  const dhcpOffers = offers.filter((x) => !isProxyOffer(x));
  const proxies = offers.filter(isProxyOffer);
  const owner = (x: Offer) => ownerOf(x, k);
  const named = (x: Offer) => `${serverOf(x)}${owner(x) ? ` (${owner(x)})` : ''}`;
  const evidence = [c.sent, ...offers.map((x) => `${isProxyOffer(x) ? 'proxyDHCP ' : ''}${describeOffer(x)} — ${owner(x) ?? "not the project's"}`)];
  const servers = unique(dhcpOffers.map(serverOf));
  const byServer = (s: string) => dhcpOffers.find((x) => serverOf(x) === s)!;
  const ours = servers.filter((s) => owner(byServer(s)) !== undefined);
  // The project's servers known by address outrank one that only points at the NAS (a copy of
  // the config on another box is still a second DHCP server).
  const sure = ours.filter((s) => k.dhcp.has(s));
  const keep = sure.length > 0 ? sure : ours;
  const off = servers.filter((s) => !keep.includes(s));
  // The firmware boots the DHCP offer's file, a proxyDHCP's only when the DHCP offer has none;
  // with a stranger about, the walk goes on with the project's own offer.
  const withFile = (xs: Offer[]) => xs.find((x) => keep.includes(serverOf(x)) && fileOf(x) !== '') ?? xs.find((x) => owner(x) && fileOf(x) !== '') ?? xs.find((x) => fileOf(x) !== '');
  const offer = withFile(dhcpOffers) ?? withFile(proxies) ?? dhcpOffers.find(owner) ?? dhcpOffers[0];
  const v = (status: LinkStatus, summary: string, fix?: string): DhcpVerdict => ({ status, summary, evidence, fix, offer, usable: dhcpOffers.length > 0 });
  const what = (x: Offer) => (fileOf(x) === '' ? 'it gives no boot file' : `it sends PXE clients to ${bootServerOf(x)} for ${fileOf(x)}`);

  if (dhcpOffers.length === 0) {
    return v('fail', `No DHCP server answered the workstation within ${c.waitMs} ms`, 'Check that the DHCP server runs and serves this network (router or dnsmasq), and that nothing filters broadcasts; a slow one needs a longer wait (--dhcp-wait).');
  }
  if (servers.length > 1) {
    const first = serverOf(dhcpOffers[0]!);
    const label = (s: string) => (owner(byServer(s)) ? named(byServer(s)) : `${s} (a stranger)`);
    const why = (s: string) => (owner(byServer(s)) ? `not known to the project, though ${owner(byServer(s))}` : `not the project's: ${what(byServer(s))}`);
    const summary = `${servers.length} DHCP servers answer: ${list(servers.map(label))}`;
    if (keep.length > 0 && off.length > 0) {
      return v(
        'fail',
        summary,
        `Keep one DHCP server on this network: switch off DHCP on ${list(off.map((s) => `${s} (${why(s)})`))} — a second router, a NAS or a VM host often runs one. ${list(keep.map((s) => named(byServer(s))))} ${keep.length === 1 ? 'stays' : 'stay'}. Workstations take whichever answers first${off.includes(first) ? `: here ${first} answered first` : ''}.`,
      );
    }
    return v(
      'fail',
      summary,
      keep.length === 0
        ? `Keep one DHCP server on this network: switch off DHCP on all of ${list(servers)} but your router. None of them is known to the project or sends PXE clients to its NAS ${p.nas.address}; with the router's address as the gateway of the project's subnet, Bootchain names the one to switch off.`
        : `Keep one DHCP server on this network: ${list(servers)} ${servers.length === 2 ? 'both' : 'all'} serve the project; switch off DHCP on all but one (usually the router's). Workstations take whichever answers first.`,
    );
  }
  const dhcpBoot = dhcpOffers.find((x) => fileOf(x) !== '');
  const otherBoot = dhcpBoot && proxies.find((x) => fileOf(x) !== '' && bootServerOf(x) !== bootServerOf(dhcpBoot));
  if (dhcpBoot && otherBoot) {
    const px = serverOf(otherBoot);
    const here = k.boot.get(px) === 'this computer';
    return v(
      'fail',
      `Two boot servers answer PXE clients: the DHCP server ${named(dhcpBoot)} sends them to ${bootServerOf(dhcpBoot)} for ${fileOf(dhcpBoot)}, the proxyDHCP ${named(otherBoot)} to ${bootServerOf(otherBoot)} for ${fileOf(otherBoot)}`,
      `Keep one boot server. To boot from ${px}, remove the PXE options (next-server ${nextServerOf(dhcpBoot)}, boot file ${fileOf(dhcpBoot)}) from the DHCP server ${serverOf(dhcpBoot)}, so that it only gives addresses; to boot from ${bootServerOf(dhcpBoot)}, switch off proxyDHCP ${here ? 'on this computer ("Serve from this computer" in the Upload step with proxyDHCP off, or bootchain serve without --proxy-dhcp)' : `on ${px}`}. Firmware picks either, so the workstation boots from one or the other.`,
    );
  }
  if (proxies.length > 1) {
    const mine = proxies.filter(owner);
    const foreign = proxies.filter((x) => !owner(x));
    return v(
      'warn',
      `${proxies.length} proxyDHCP servers answer PXE clients: ${list(proxies.map(named))}`,
      mine.length > 0 && foreign.length > 0
        ? `Keep one proxyDHCP server: switch off the one on ${list(foreign.map(serverOf))}; ${list(mine.map(named))} is the project's. Firmware takes whichever answers first.`
        : 'Keep one proxyDHCP server (Bootchain\'s "Serve from this computer", or another): firmware takes whichever answers first.',
    );
  }
  if (!offer || fileOf(offer) === '') {
    return v('fail', 'DHCP answers but gives no boot file', `Add the PXE options of the generated DHCP config: next-server ${p.nas.address} and file ${expectedFile} for ${uefi ? 'UEFI' : 'BIOS'} clients.`);
  }
  const to = bootServerOf(offer);
  if (!k.boot.has(to)) {
    return v(
      'fail',
      `${named(offer)} sends PXE clients to ${to}, which is not the project's NAS ${p.nas.address}`,
      `Set next-server ${p.nas.address} in the PXE options of ${serverOf(offer)} (the generated DHCP config has it). If ${serverOf(offer)} is not your router, switch off its DHCP instead: the project's DHCP server did not answer within ${c.waitMs} ms (a slower one needs a longer --dhcp-wait).`,
    );
  }
  if (fileOf(offer) === otherFile && otherFile !== expectedFile) {
    return v('fail', `A ${uefi ? 'UEFI' : 'BIOS'} client is offered ${otherFile}, the ${uefi ? 'BIOS' : 'UEFI'} boot file`, `Tell the architectures apart by option 93 (client architecture) on the router: ${p.boot.biosFile} for arch 0, ${p.boot.uefiFile} for arch 7 and 9 — the generated DHCP config does this.`);
  }
  const rp = rootPathOf(offer);
  if (rp !== undefined && rp !== '') {
    return v('fail', `Option 17 (root-path) "${rp}" is sent to every client`, `Send option 17 only to Bootchain's iPXE (user-class "${p.boot.userClass}"): a network card's own iPXE ROM that sees a root-path tries to SAN-boot it directly and skips the scripts.`);
  }
  if (fileOf(offer) !== expectedFile) {
    return v('warn', `The firmware is offered "${fileOf(offer)}", the project expects ${expectedFile}`, `Use ${expectedFile} in the router's PXE options, or change the project's boot file.`);
  }
  return v('pass', `${proxies.includes(offer) ? `${servers[0]} gives the address, proxyDHCP ${serverOf(offer)}` : servers[0]} offers ${fileOf(offer)} from ${nextServerOf(offer)}`);
}
