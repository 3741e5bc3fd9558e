/**
 * The boot-chain verifier: a virtual PXE client that walks one workstation's boot exactly as its
 * firmware and iPXE would, from this computer, against the live servers — DHCP (as the firmware,
 * then as iPXE), the boot file over TFTP, the embedded script, default.ipxe, the per-MAC script,
 * the iSCSI portal, a login as the workstation, its LUN and boot sector, and the kernel
 * parameters — and says for each link pass / warn / fail, with the evidence and the fix.
 *
 * Nothing is leased (DISCOVER only), nothing is written. When DHCP cannot be probed (UDP 68 not
 * allowed) the rest of the chain is still checked from the project's settings.
 */
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { formatBytes } from '../../../shared/bytes';
import { BootchainError } from '../../../shared/errors';
import { generateArtifacts, type Secrets } from '../../../shared/gen/artifacts';
import { parseIscsiUri } from '../../../shared/gen/ipxe';
import { checkKernelParams, kernelParams } from '../../../shared/gen/kernel';
import { macHexhyp, parseMac } from '../../../shared/model/mac';
import type { Project, Workstation } from '../../../shared/model/project';
import { CHAIN_LINKS, type ChainLink, type IdentityCheck, type LinkId, type LinkStatus, type VerifyResult } from '../../../shared/verify';
import { readEmbeddedScript } from '../build/readback';
import { discoverOffers } from '../dhcp/client';
import { rootPathOf, type ClientArch } from '../dhcp/packet';
import { interfaceBroadcast, listInterfaces } from '../net/interfaces';
import { probeTarget } from '../iscsi/probe';
import { tftpGet } from '../tftp/client';
import { redactSecrets } from '../errors';
import { sha256 } from '../upload/plan';
import { describeOffer, fileOf, isProxyOffer, judgeFirmwareOffers, knownServers, nextServerOf, ownerOf, serverOf, type Offer } from './dhcp-link';
import { runScript, type Fetched, type ScriptRun } from './script';

export interface VerifyOptions {
  kernelCmdline?: string | undefined;
  buildDir?: string | undefined;
  dhcp: boolean;
  /** The most offers are collected for, per DISCOVER; they stop earlier once settled. */
  dhcpWaitMs: number;
  /** The interface on the workstations' network: DISCOVERs go to its subnet's broadcast. */
  interface?: string | undefined;
  /** Where DISCOVERs go (default: the interface's subnet broadcast, else the limited broadcast). */
  broadcast?: string | undefined;
  signal?: AbortSignal | undefined;
  log?: ((line: string) => void) | undefined;
  /** Called as each link gets its verdict (the UI colours the picture as it goes). */
  onLink?: ((l: ChainLink) => void) | undefined;
}

const errText = (e: unknown) => (e instanceof BootchainError ? e.appError.message : e instanceof Error ? e.message : String(e));
const errCode = (e: unknown) => (e instanceof BootchainError ? e.appError.code : undefined);

/**
 * After the project's server has answered, how long offers must stop coming before the wait ends
 * early: a stranger a little slower than the project's server is still seen; one much slower is
 * seen with the full wait (a longer --dhcp-wait does not end early before the project's answer).
 */
const DHCP_QUIET_MS = 500;

/** Settings iPXE takes from a DHCP offer. */
function offerSettings(o: Offer): Record<string, string> {
  const s: Record<string, string> = { ip: o.yiaddr, 'next-server': nextServerOf(o), filename: fileOf(o) };
  const rp = rootPathOf(o);
  if (rp !== undefined && rp !== '') s['17'] = rp;
  const hn = o.options.get(12)?.toString('latin1').replace(/\0+$/, '');
  if (hn) s.hostname = hn;
  return s;
}

/** Fetches over HTTP (GET, size-capped). */
function httpGet(url: string, signal?: AbortSignal): Promise<Fetched> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 3000, signal }, (res) => {
      if ((res.statusCode ?? 0) >= 400) {
        res.resume();
        return resolve({ url, ok: false, error: `HTTP ${res.statusCode}` });
      }
      const parts: Buffer[] = [];
      let n = 0;
      res.on('data', (d: Buffer) => {
        n += d.length;
        if (n > 64 << 20) req.destroy(new Error('larger than 64 MiB'));
        else parts.push(d);
      });
      res.on('end', () => resolve({ url, ok: true, data: Buffer.concat(parts) }));
      res.on('error', (e) => resolve({ url, ok: false, error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 3 s')));
    req.on('error', (e) => resolve({ url, ok: false, error: e.message }));
  });
}

async function fetchUrl(url: string, signal?: AbortSignal): Promise<Fetched> {
  const m = /^tftp:\/\/([^/:]+)(?::(\d+))?\/(.*)$/.exec(url);
  if (m) {
    try {
      const r = await tftpGet(m[1]!, decodeURIComponent(m[3]!), { port: m[2] ? Number(m[2]) : 69, timeoutMs: 800, retries: 2, signal });
      return { url, ok: true, data: r.data };
    } catch (e) {
      return { url, ok: false, error: errText(e) };
    }
  }
  if (/^http:\/\//.test(url)) return httpGet(url, signal);
  return { url, ok: false, error: `Bootchain cannot fetch ${url.split(':')[0]} URLs (tftp and http only)` };
}

function tcpCheck(host: string, port: number, timeoutMs: number): Promise<{ ok: boolean; error?: string }> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const t = setTimeout(() => {
      s.destroy();
      resolve({ ok: false, error: `no answer in ${timeoutMs} ms` });
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve({ ok: true });
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve({ ok: false, error: e.code === 'ECONNREFUSED' ? 'connection refused: nothing listens there' : e.message });
    });
  });
}

/**
 * A kernel command line with its CHAP secrets as ***: genkernel's and initramfs-tools'
 * *password*= values, and dracut's netroot=iscsi:<user>:<secret>[:<in-user>:<in-secret>]@…
 * (a command line given by the user may hold secrets the project does not know).
 */
function hideCmdlineSecrets(params: string): string {
  return params.replace(/(password\w*=)\S+/g, '$1***').replace(/(netroot=iscsi:)(\S*)@/, (_m, pre: string, auth: string) => {
    const parts = auth.split(':');
    return `${pre}${parts[0]}:***${parts.length === 4 ? `:${parts[2]}:***` : ''}@`;
  });
}

/** Verifies the boot chain of one workstation. */
export async function verifyStation(p: Project, secrets: Secrets, stationName: string, o: VerifyOptions): Promise<VerifyResult> {
  const t0 = Date.now();
  const index = p.workstations.findIndex((w) => w.name === stationName);
  const found: Workstation | undefined = p.workstations[index];
  if (!found) throw new BootchainError({ code: 'NOT_FOUND', message: `The project has no workstation "${stationName}"`, hint: `Workstations: ${p.workstations.map((x) => x.name).join(', ') || 'none'}.`, retryable: false, field: 'station' });
  const w: Workstation = found;
  const parsedMac = parseMac(w.mac);
  if (!parsedMac.ok) throw new BootchainError({ code: 'INVALID_INPUT', message: parsedMac.reason, hint: 'Fix the MAC in the project.', retryable: false });
  const mac = { value: parsedMac.value };
  const g = generateArtifacts(p, secrets);
  const generated = g.ok ? g.files : {};
  const uefi = w.firmware === 'uefi';
  const arch: ClientArch = uefi ? 7 : 0;
  const expectedFile = uefi ? p.boot.uefiFile : p.boot.biosFile;
  const otherFile = uefi ? p.boot.biosFile : p.boot.uefiFile;
  const stationFile = `${macHexhyp(mac.value)}.ipxe`;
  const links = new Map<LinkId, ChainLink>();
  const log = o.log ?? (() => undefined);
  // Every secret this run knows — the project's, and any a served script sets — is taken out of
  // each link (summary, evidence, fix) as it is made: links are all that leaves, as the result,
  // onLink and the log.
  const secretValues = new Set(Object.values(secrets));
  const set = (id: LinkId, status: LinkStatus, summary: string, evidence: string[], fix?: string) => {
    const def = CHAIN_LINKS.find((l) => l.id === id)!;
    const l: ChainLink = redactSecrets({ id, title: def.title, status, summary, evidence, ...(fix ? { fix } : {}) }, secretValues);
    links.set(id, l);
    o.onLink?.(l);
    log(`${def.title}: ${status} — ${l.summary}`);
  };
  const skipRest = (from: LinkId, why: string) => {
    const start = CHAIN_LINKS.findIndex((l) => l.id === from);
    for (const l of CHAIN_LINKS.slice(start)) if (!links.has(l.id) && l.id !== 'kernel') set(l.id, 'skip', why, []);
  };

  // 1. DHCP as the firmware.
  let nextServer = p.nas.address;
  let bootFile: string = expectedFile;
  let firmwareOffer: Offer | undefined;
  let dhcpUsable = o.dhcp;
  // Whose offers are whose: the project's router, NAS, boot server, this computer (its proxyDHCP).
  const servers = knownServers(p, listInterfaces().flatMap((i) => i.subnets.map((x) => x.address)));
  // Where DISCOVERs go: the chosen interface's subnet broadcast leaves by that interface even
  // without a default route; the limited broadcast needs one.
  const via = o.dhcp && o.interface ? interfaceBroadcast(o.interface) : undefined;
  const to = o.broadcast ?? via?.broadcast ?? '255.255.255.255';
  // Each DISCOVER collects until the project's server has answered and the offers have settled,
  // at most dhcpWaitMs: a router slower than a stranger is still heard. DISCOVERs go one at a
  // time, as the firmware's and then iPXE's would (a busy server answers one after the other).
  const discover = (userClass: string | undefined, ipxe: boolean): Promise<Offer[]> =>
    discoverOffers(
      { mac: mac.value, arch, uuid: Buffer.from(sha256(w.mac).slice(0, 32), 'hex'), ...(userClass ? { userClass } : {}), ipxe },
      { timeoutMs: o.dhcpWaitMs, quietMs: Math.min(DHCP_QUIET_MS, o.dhcpWaitMs), enough: (xs) => xs.some((x) => ownerOf(x, servers) !== undefined), broadcast: to, signal: o.signal },
    );
  if (!o.dhcp) {
    set('dhcp', 'skip', 'DHCP was not probed (switched off): next-server and boot file taken from the project', [`next-server ${nextServer}, file ${bootFile}`]);
  } else {
    try {
      const t1 = Date.now();
      const offers = await discover(undefined, false);
      const sent = `DISCOVER as ${w.mac}, PXEClient arch ${arch} (${uefi ? 'UEFI x64' : 'BIOS'}), to ${to}${via ? ` (${via.name})` : ''}; offers collected for ${Date.now() - t1} ms (at most ${o.dhcpWaitMs})`;
      const d = judgeFirmwareOffers(offers, servers, { p, uefi, sent, waitMs: o.dhcpWaitMs });
      set('dhcp', d.status, d.summary, d.evidence, d.fix);
      // The server the firmware goes on with is the project's: iPXE's answers from it are too.
      if (d.offer && !isProxyOffer(d.offer) && ownerOf(d.offer, servers)) servers.dhcp.set(serverOf(d.offer), ownerOf(d.offer, servers)!);
      dhcpUsable = d.usable;
      firmwareOffer = d.offer;
      if (firmwareOffer && fileOf(firmwareOffer)) {
        nextServer = nextServerOf(firmwareOffer);
        bootFile = fileOf(firmwareOffer);
      }
    } catch (e) {
      dhcpUsable = false;
      const code = errCode(e);
      if (code === 'CANCELLED') throw e;
      set('dhcp', code === 'PERMISSION_DENIED' || code === 'BUSY' ? 'skip' : 'fail', `DHCP could not be probed: ${errText(e)}`, [errText(e)], e instanceof BootchainError ? e.appError.hint : undefined);
    }
  }

  // 2. The boot file over TFTP.
  let bin: Buffer | undefined;
  try {
    const r = await tftpGet(nextServer, bootFile, { timeoutMs: 800, retries: 2, blksize: 1432, ...(o.signal ? { signal: o.signal } : {}) });
    bin = r.data;
    const ev = [`TFTP ${nextServer} ${bootFile}: ${r.data.length} bytes, blksize ${r.blksize}, sha256 ${sha256(r.data)}`];
    const manifestFile = o.buildDir ? path.join(o.buildDir, 'manifest.json') : undefined;
    const built = manifestFile && existsSync(manifestFile) ? (JSON.parse(readFileSync(manifestFile, 'utf8')) as { artifacts?: Array<{ file: string; sha256: string; size: number }> }).artifacts?.find((a) => path.basename(a.file) === path.basename(bootFile)) : undefined;
    const rb = readEmbeddedScript(r.data);
    if (built) ev.push(`built ${built.file}: ${built.size} bytes, sha256 ${built.sha256}`);
    if (built && built.sha256 !== sha256(r.data)) {
      set('bootfile', 'fail', `The TFTP server serves a different ${bootFile} than the one built`, ev, 'Upload again (Upload step): the server holds an older or another iPXE.');
    } else if (!rb.ipxe) {
      set('bootfile', 'warn', `${bootFile} is not an iPXE binary Bootchain recognises`, ev, `Serve iPXE (${expectedFile}) as the boot file.`);
    } else {
      set('bootfile', 'pass', `${nextServer} serves ${bootFile} (iPXE${built ? ', same as built' : ''})`, ev);
    }
  } catch (e) {
    if (errCode(e) === 'CANCELLED') throw e;
    const code = errCode(e);
    const down = code === 'TIMEOUT';
    set(
      'bootfile',
      'fail',
      down ? `The TFTP server ${nextServer} does not answer` : `${nextServer} has no ${bootFile}: ${errText(e)}`,
      [`TFTP ${nextServer} ${bootFile}: ${errText(e)}`],
      down ? `Start the TFTP service on ${nextServer} (and allow UDP 69 and the ports after it through its firewall).` : `Upload ${bootFile} into the TFTP root (Upload step), or fix the file name in the DHCP config.`,
    );
    skipRest('embedded', 'not reached: iPXE could not be loaded');
    return finish();
  }

  // 3. iPXE runs: its embedded script, or (stock iPXE) its own DHCP and the file it is given.
  const rb = readEmbeddedScript(bin);
  const baseUrl = `tftp://${nextServer}/${bootFile}`;
  const ipxeDhcp = async (userClass: string | undefined): Promise<Record<string, string> | undefined> => {
    if (!dhcpUsable) {
      // Not probed: assume the router runs the generated config (iPXE gets default.ipxe).
      ipxeOffers.push(`DHCP not probed: assumed the generated config (iPXE gets default.ipxe${p.router.rootPath ? `, option 17 ${p.router.rootPath}` : ''})`);
      return { 'next-server': nextServer, filename: 'default.ipxe', ...(p.router.rootPath ? { 17: p.router.rootPath } : {}) };
    }
    const offers = await discover(userClass, true);
    const proxied = (x: Offer) => x.yiaddr === '0.0.0.0';
    // With a stranger answering too, the walk follows the project's server (the DHCP link names the stranger).
    const mine = offers.filter((x) => ownerOf(x, servers) !== undefined);
    const from = mine.length > 0 ? mine : offers;
    const pick = from.find((x) => !proxied(x) && (fileOf(x) !== '' || rootPathOf(x) !== undefined)) ?? from.find((x) => fileOf(x) !== '') ?? from[0];
    ipxeOffers.push(...offers.map((x) => `as iPXE (user-class ${userClass ?? 'iPXE'}): ${describeOffer(x)}${mine.length > 0 && !mine.includes(x) ? " — not the project's" : ''}`));
    return pick ? offerSettings(pick) : undefined;
  };
  const ipxeOffers: string[] = [];
  let run: ScriptRun;
  const host = { fetch: (u: string) => fetchUrl(u, o.signal), dhcp: ipxeDhcp };
  if (rb.script !== undefined) {
    run = await runScript(rb.script, baseUrl, host, { mac: mac.value, settings: { 'next-server': nextServer } });
  } else {
    // Stock iPXE: it asks DHCP as "iPXE" and boots the file it gets.
    const s = await ipxeDhcp('iPXE');
    const file = s?.filename ?? '';
    if (!s || file === '' || file === bootFile || /\.(kpxe|pxe|efi)$/.test(file)) {
      set(
        'embedded',
        'fail',
        !s ? 'iPXE gets no DHCP answer' : `The DHCP loop: this iPXE has no embedded script and DHCP gives it ${file || 'no file'}${file === bootFile ? ', iPXE itself again' : ''}`,
        [`${bootFile} has no embedded script`, ...ipxeOffers],
        `Either build iPXE with Bootchain's embedded script (Build step) and upload it, or add the generated DHCP rule that gives clients with user-class "iPXE" (option 175) the file default.ipxe instead of ${bootFile}.`,
      );
      skipRest('default', 'not reached: iPXE loops or stops before the scripts');
      return finish();
    }
    const script = `#!ipxe\nchain ${s['17'] ? `${s['17']}/` : ''}${file}\n`;
    run = await runScript(script, baseUrl, host, { mac: mac.value, settings: s });
  }
  return afterScripts(run, rb.script !== undefined);

  function afterScripts(r: ScriptRun, embedded: boolean): Promise<VerifyResult> | VerifyResult {
    // The secrets the served scripts set (an older upload may hold others than the project).
    for (const s of [r.settings, ...r.events.flatMap((e) => (e.kind === 'sanboot' ? [e.settings] : []))]) for (const k of ['password', 'reverse-password']) if (s[k]) secretValues.add(s[k]);
    const echoes = r.events.filter((e) => e.kind === 'echo').map((e) => `echo: ${(e as { text: string }).text}`);
    const failedChains = r.events.filter((e) => e.kind === 'chain-failed') as Array<Extract<ScriptRun['events'][number], { kind: 'chain-failed' }>>;
    const scriptNames = r.scripts.map((s) => s.url);
    const defaultRun = r.scripts.find((s) => s.url.endsWith('/default.ipxe'));
    const stationRun = r.scripts.find((s) => s.url.toLowerCase().endsWith(`/${stationFile}`));
    const evScript = [...ipxeOffers, ...scriptNames.map((u) => `ran ${u}`), ...failedChains.map((c) => `chain ${c.target}: ${c.error}`), ...echoes];

    // Embedded link.
    if (embedded) {
      const want = generated['embed.ipxe'];
      const same = want === undefined || rb.script === want;
      const sawDhcp = r.events.some((e) => e.kind === 'dhcp' && e.ok);
      if (!sawDhcp) {
        set('embedded', 'fail', 'iPXE gets no DHCP answer as itself', evScript, 'Check the DHCP server answers iPXE (user-class "' + p.boot.userClass + '"); see the DHCP link.');
      } else if (!defaultRun && r.end === 'shell') {
        const why = echoes.find((x) => /option 17/.test(x));
        set('embedded', 'fail', why ? why.replace(/^echo: Bootchain: /, '') : 'The embedded script stopped before default.ipxe', evScript, why ? `Option 17 (root-path) for user-class "${p.boot.userClass}" must be ${p.router.rootPath || 'empty'}: fix it on the router (the generated DHCP config has it right).` : 'Read the evidence: the script says why it stopped.');
      } else {
        set('embedded', same ? 'pass' : 'warn', same ? 'The embedded script is the project\'s and gets past DHCP' : 'The embedded script differs from the project\'s', evScript, same ? undefined : 'Build again (Build step) and upload, so the binary carries the current script.');
      }
    } else {
      set('embedded', 'pass', 'Stock iPXE: DHCP gives iPXE a script instead of iPXE again (no loop)', evScript);
    }

    // default.ipxe
    const defFail = failedChains.find((c) => c.target.endsWith('/default.ipxe'));
    if (defFail) {
      const rp = r.settings['17'];
      set(
        'default',
        'fail',
        `default.ipxe could not be loaded from ${defFail.target}: ${defFail.error}`,
        evScript,
        rp ? `Option 17 (root-path) is "${rp}": it must be the place that holds default.ipxe (${p.router.rootPath ? p.router.rootPath : 'empty, meaning the TFTP server itself'}). Fix option 17 on the router, or upload the files there.` : 'Upload default.ipxe into the TFTP root (Upload step).',
      );
      skipRest('station', 'not reached: default.ipxe is missing');
      return finish();
    }
    if (r.end === 'chain-binary') {
      const b = r.events.find((e) => e.kind === 'chain-binary') as { target: string } | undefined;
      set('default', 'fail', `A script chains a binary (${b?.target}) instead of the next script: the boot loops`, evScript, 'Make default.ipxe chain ${17}/${mac:hexhyp}.ipxe (upload the generated one).');
      skipRest('station', 'not reached');
      return finish();
    }
    if (defaultRun) set('default', 'pass', `${defaultRun.url} ran and looked for ${stationFile}`, [`ran ${defaultRun.url}`]);
    else if (!links.has('default')) set('default', 'skip', 'default.ipxe was not used by this chain', []);

    // Per-MAC script
    const stFail = failedChains.find((c) => c.target.toLowerCase().endsWith(`/${stationFile}`));
    if (stFail) {
      return (async () => {
        const dir = stFail.target.slice(0, stFail.target.lastIndexOf('/') + 1);
        const hex = macHexhyp(mac.value);
        const spellings = [hex.toUpperCase(), hex.replace(/-/g, ''), hex.replace(/-/g, '').toUpperCase(), `01-${hex}`, hex.replace(/-/g, ':')].map((s) => `${s}.ipxe`);
        const present: string[] = [];
        for (const sp of spellings) if ((await fetchUrl(`${dir}${sp}`, o.signal)).ok) present.push(sp);
        set(
          'station',
          'fail',
          present.length > 0 ? `${stationFile} is missing, but ${present.join(', ')} is there` : `There is no ${stationFile} for MAC ${mac.value}`,
          [...evScript, `looked for other spellings in ${dir}: ${present.length > 0 ? present.join(', ') : 'none found'}`],
          present.length > 0 ? `iPXE asks for the lower-case, hyphenated name: rename ${present[0]} to ${stationFile} (or upload from Bootchain, which names it right). TFTP servers are case-sensitive.` : `Upload ${stationFile} (Upload step), or check the workstation's MAC in the project (${mac.value}).`,
        );
        skipRest('portal', 'not reached: no per-MAC script');
        return finish();
      })();
    }
    const sb = r.events.find((e) => e.kind === 'sanboot') as Extract<ScriptRun['events'][number], { kind: 'sanboot' }> | undefined;
    if (!sb) {
      set('station', 'fail', `The scripts end without sanboot (${r.end})`, evScript, 'Upload the generated per-MAC script; it ends with sanboot.');
      skipRest('portal', 'not reached');
      return finish();
    }
    const stationEv = [`${sb.url} line ${sb.line}: sanboot ${sb.keep ? '--keep ' : ''}${sb.filename ? `--filename ${sb.filename} ` : ''}${sb.uris.join(' ')}`, `initiator-iqn ${sb.settings['initiator-iqn'] ?? '(not set: iPXE makes one up)'}`, `CHAP user ${sb.settings.username ?? '(none)'}`];
    set('station', 'pass', `${stationRun?.url ?? sb.url} boots ${sb.uris[0] ?? '(no URI)'}`, stationEv);
    return checkSan(sb);
  }

  async function checkSan(sb: Extract<ScriptRun['events'][number], { kind: 'sanboot' }>): Promise<VerifyResult> {
    const uri = parseIscsiUri(sb.uris[0] ?? '');
    if (!uri.ok) {
      set('portal', 'fail', `The sanboot URI cannot be read: ${uri.reason}`, [sb.uris[0] ?? ''], 'Use iscsi:<server>::<port>:<lun>:<target> (upload the generated script).');
      skipRest('target', 'not reached');
      return finish();
    }
    const u = uri.value;
    const port = u.port ?? 3260;
    const c = await tcpCheck(u.server, port, 1500);
    const wrongServer = u.server !== p.nas.address && !(w.portals ?? []).some((x) => x.address === u.server);
    if (!c.ok) {
      set('portal', 'fail', `The iSCSI portal ${u.server}:${port} does not answer: ${c.error}`, [`TCP connect ${u.server}:${port}: ${c.error}`], wrongServer ? `sanboot points at ${u.server}, but the NAS is ${p.nas.address}: fix the address in the per-MAC script (upload the generated one).` : `Start the iSCSI target service on ${u.server} and allow TCP ${port}.`);
      skipRest('target', 'not reached: no portal');
      return finish();
    }
    set('portal', wrongServer ? 'warn' : 'pass', wrongServer ? `sanboot points at ${u.server}, not at the project's NAS ${p.nas.address}` : `${u.server}:${port} accepts connections`, [`TCP connect ${u.server}:${port}: open`], wrongServer ? 'Check that this is the server you mean.' : undefined);

    const initiator = sb.settings['initiator-iqn'];
    const chap = sb.settings.username && sb.settings.password ? { username: sb.settings.username, secret: sb.settings.password, ...(sb.settings['reverse-password'] ? { mutual: { username: sb.settings['reverse-username'], secret: sb.settings['reverse-password'] } } : {}) } : undefined;
    try {
      const pr = await probeTarget({ host: u.server, port, initiatorName: initiator ?? 'iqn.2010-04.org.ipxe:bootchain-verify', targetName: u.target, chap, timeoutMs: 5000, ...(o.signal ? { signal: o.signal } : {}) });
      const lun = pr.luns.find((l) => l.lun === u.lun);
      const ev = [`login as ${pr.initiator}${chap ? ` with CHAP user ${chap.username}${chap.mutual ? ' (mutual)' : ''}` : ''}: accepted`, ...pr.luns.map((l) => `LUN ${l.lun}: ${l.deviceTypeName}${l.sizeBytes ? `, ${(l.sizeBytes / (1 << 20)).toFixed(0)} MiB` : ''}${l.layout ? `, ${l.layout.summary}` : ''}`)];
      if (!lun) {
        set('target', 'fail', `Target ${u.target} has no LUN ${u.lun}`, ev, `Use LUN ${pr.bootLun ?? 1} in the project (the disk${pr.bootLun !== undefined ? ` is LUN ${pr.bootLun}` : ''}).`);
        skipRest('bootsector', 'not reached');
        return finish();
      }
      if (lun.deviceType !== 0) {
        set('target', 'fail', `sanboot names LUN ${u.lun}, which is a ${lun.deviceTypeName}, not a disk`, ev, `Use LUN ${pr.bootLun ?? 1}: on tgt (and many Linux targets) LUN 0 is the controller and the disk is LUN 1. Change the workstation's LUN in the project and upload.`);
        skipRest('bootsector', 'not reached');
        return finish();
      }
      set('target', 'pass', `Logged in to ${u.target} as ${pr.initiator}; LUN ${u.lun} is a ${formatBytes(lun.sizeBytes!)} disk`, ev);
      const lay = lun.layout;
      const lev = [lay ? `LBA 0: ${lay.summary}; boot signature 0x55AA ${lay.bootSignature ? 'present' : 'absent'}${lay.esp ? `; EFI system partition ${lay.esp.index}` : ''}` : 'not read'];
      if (!lay || lay.verdict === 'empty') set('bootsector', 'fail', `LUN ${u.lun} is empty: nothing to boot`, lev, 'Install the operating system onto this disk first (the recipe installs it from a running system), or point the workstation at the disk that holds it.');
      else if (!uefi && !lay.bootSignature) set('bootsector', 'fail', `LUN ${u.lun} has no boot sector (no 0x55AA signature): a BIOS cannot boot it`, lev, 'Install a boot loader into the disk\'s MBR (e.g. grub-install on the iSCSI disk).');
      else if (uefi && !lay.esp) set('bootsector', 'fail', `A UEFI workstation, but LUN ${u.lun} has ${lay.scheme === 'gpt' ? 'no EFI system partition' : `an ${lay.scheme.toUpperCase()} disk without an EFI system partition`}`, lev, lay.scheme === 'mbr' && lay.bootSignature ? 'The disk is set up for BIOS: switch the workstation to BIOS (legacy) boot in the project and the firmware, or reinstall for UEFI.' : 'Install with a GPT and an EFI system partition holding \\EFI\\BOOT\\BOOTX64.EFI.');
      else if (!uefi && lay.scheme === 'gpt' && !lay.bootSignature) set('bootsector', 'fail', 'A BIOS workstation, but the disk is set up for UEFI only', lev, 'Switch the workstation to UEFI in the project and its firmware, or install a BIOS boot loader.');
      else set('bootsector', 'pass', uefi ? `GPT with an EFI system partition` : `Boot sector present (${lay.summary})`, lev);
    } catch (e) {
      if (errCode(e) === 'CANCELLED') throw e;
      const a = e instanceof BootchainError ? e.appError : undefined;
      const code = a?.code;
      const ev = [`login as ${initiator ?? '(iPXE default name)'} to ${u.target}${chap ? ` with CHAP user ${chap.username}` : ''}: ${errText(e)}`];
      if (code === 'AUTH_FAILED') set('target', 'fail', `The NAS refuses the CHAP login of ${chap?.username ?? 'the workstation'}`, ev, `Make the CHAP secret in the project (per-MAC script) equal to the one set for target ${u.target} on the NAS, then upload.`);
      else if (code === 'TARGET_NOT_FOUND') set('target', 'fail', `The NAS does not let ${initiator ?? 'this initiator'} see target ${u.target}`, ev, a?.hint ?? 'Check the target name for typos, and that the target\'s ACL allows this initiator IQN.');
      else set('target', 'fail', `Login to ${u.target} failed: ${errText(e)}`, ev, a?.hint);
      skipRest('bootsector', 'not reached: no login');
    }
    return finish();
  }

  function finish(): VerifyResult {
    // Kernel side: the generated parameters (or the command line given) against the chain.
    let kernelIqn: string | undefined;
    try {
      const lookup = (ref: string) => secrets[ref] ?? '';
      const k = kernelParams(p, w, index, lookup);
      const params = o.kernelCmdline ?? k.params;
      kernelIqn = /(?:iscsi_initiatorname|iscsi_initiator|rd\.iscsi\.initiator)=(\S+)/.exec(params)?.[1];
      const problems = checkKernelParams(params, { address: (w.portals?.[0]?.address ?? p.nas.address), initiator: w.initiatorIqn });
      const ev = [`${o.kernelCmdline ? 'given' : 'generated'} (${k.initramfs}): ${hideCmdlineSecrets(params)}`];
      if (problems.length > 0) set('kernel', 'fail', problems.join('; '), ev, problems.some((x) => x.startsWith('no ip=dhcp')) ? 'Add ip=dhcp to the kernel command line (the initramfs must bring the network up to reach the target).' : 'Use the generated kernel parameters (Identity step, kernel/<station>.txt).');
      else set('kernel', 'pass', `The ${k.initramfs} parameters bring the network up and name ${w.initiatorIqn}`, ev);
    } catch (e) {
      set('kernel', 'fail', errText(e), [], 'Fix the workstation in the project.');
    }
    const identity = identityCheck(kernelIqn);
    const ordered = CHAIN_LINKS.map((l) => links.get(l.id) ?? { id: l.id, title: l.title, status: 'skip' as const, summary: 'not reached', evidence: [] });
    const firstBroken = ordered.find((l) => l.status === 'fail')?.id;
    return { station: w.name, mac: mac.value, firmware: w.firmware, links: ordered, identity, ...(firstBroken ? { firstBroken } : {}), ok: !firstBroken && identity.status !== 'fail', durationMs: Date.now() - t0 };
  }

  function identityCheck(kernelIqn: string | undefined): IdentityCheck {
    const st = links.get('station');
    const ipxeIqn = st?.evidence.find((e) => e.startsWith('initiator-iqn '))?.slice('initiator-iqn '.length);
    const ev = [`project: ${w.initiatorIqn}`, `iPXE (per-MAC script): ${ipxeIqn ?? 'not reached'}`, `kernel: ${kernelIqn ?? 'not named'}`, `NAS ACL: ${links.get('target')?.status === 'pass' ? 'accepted this initiator' : links.get('target')?.status === 'fail' ? 'refused or not reached' : 'not checked'}`, `CHAP: ${w.chap ? `user ${w.chap.username}` : 'none'}`];
    const names = [w.initiatorIqn, ipxeIqn, kernelIqn].filter((x): x is string => x !== undefined && !x.startsWith('(') && x !== 'not reached');
    if (new Set(names).size > 1) return { status: 'fail', summary: 'The initiator IQN is not the same everywhere', evidence: ev, fix: 'Upload the generated per-MAC script and use the generated kernel parameters: all three must name the same IQN, the one the NAS ACL allows.' };
    if (links.get('target')?.status === 'fail') return { status: 'warn', summary: 'Same IQN in iPXE and kernel; the NAS did not accept the login (see Target)', evidence: ev };
    return { status: ipxeIqn ? 'pass' : 'skip', summary: ipxeIqn ? `${w.initiatorIqn} in iPXE, the kernel parameters and the NAS login` : 'The per-MAC script was not reached', evidence: ev };
  }
}
