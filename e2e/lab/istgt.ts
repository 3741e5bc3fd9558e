/**
 * Debian's istgt (FreeBSD's target, as FreeNAS shipped it; its LUN 0 is the disk, as on QNAP) in a
 * lab host: one target with a file-backed disk on LUN 0, optional one-way/mutual CHAP and digests.
 * Config syntax: istgt.conf(5) and /usr/share/doc/istgt/examples (see docs/lab-notes.md).
 */
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, truncateSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { addLabHost } from './lab';

/** A host addLabHost made. */
export type LabHost = Awaited<ReturnType<typeof addLabHost>>;

/** How to run istgt. */
export interface IstgtOptions {
  /** Address of the host to listen on (port 3260). */
  ip: string;
  /** Folder for the config, the auth file and the disk image (created). */
  dir: string;
  /** The disk's size in MiB (a sparse file), or an existing image file to serve. */
  sizeMiB?: number;
  image?: string;
  /** Short target name; the IQN is `${NODE_BASE}:${name}`. */
  name?: string;
  chap?: { username: string; secret: string; mutual?: { username: string; secret: string } };
  /** istgt's UseDigest: Auto (initiator chooses) or both required. */
  digest?: 'Auto' | 'Required';
  /** Overrides of istgt's [Global] iSCSI keys (FirstBurstLength, ImmediateData, ...). */
  keys?: Record<string, string | number>;
}

/** A running istgt. */
export interface Istgt {
  iqn: string;
  portal: { host: string; port: number };
  image: string;
  pid: number;
}

export const ISTGT = '/usr/sbin/istgt';
const NODE_BASE = 'iqn.2026-11.test.bootchain.istgt';
const SAFE = /^[A-Za-z0-9._:-]{1,64}$/;

/** Starts istgt in `host` (foreground, so the lab host's removal stops it) and waits for its portal. */
export async function startIstgt(host: LabHost, o: IstgtOptions): Promise<Istgt> {
  if (!existsSync(ISTGT)) throw new Error(`${ISTGT} missing (apt-get install istgt)`);
  const name = o.name ?? 'disk0';
  for (const v of [name, o.ip, o.chap?.username, o.chap?.mutual?.username]) if (v !== undefined && !SAFE.test(v)) throw new Error(`unsafe istgt config value ${JSON.stringify(v)}`);
  for (const s of [o.chap?.secret, o.chap?.mutual?.secret]) if (s !== undefined && !/^[\x21-\x7e]{1,64}$/.test(s.replace(/"/g, ''))) throw new Error('unsafe CHAP secret for istgt');
  mkdirSync(o.dir, { recursive: true });
  let image = o.image;
  if (!image) {
    image = path.join(o.dir, `${name}.img`);
    closeSync(openSync(image, 'w'));
    truncateSync(image, (o.sizeMiB ?? 64) << 20);
  }
  const mib = Math.ceil((o.sizeMiB ?? 64));
  const auth = path.join(o.dir, 'auth.conf');
  const chap = o.chap;
  writeFileSync(auth, chap ? `[AuthGroup1]\n  Auth "${chap.username}" "${chap.secret}"${chap.mutual ? ` "${chap.mutual.username}" "${chap.mutual.secret}"` : ''}\n` : '', { mode: 0o600 });
  chmodSync(auth, 0o600);
  const keys = Object.entries(o.keys ?? {}).map(([k, v]) => {
    if (!/^[A-Za-z0-9]+$/.test(k) || !/^[A-Za-z0-9]+$/.test(String(v))) throw new Error(`unsafe istgt key ${k}`);
    return `  ${k} ${v}`;
  });
  const conf = path.join(o.dir, 'istgt.conf');
  writeFileSync(
    conf,
    [
      '[Global]',
      `  NodeBase "${NODE_BASE}"`,
      `  PidFile ${path.join(o.dir, 'istgt.pid')}`,
      `  AuthFile ${auth}`,
      `  MediaDirectory ${o.dir}`,
      '  DiscoveryAuthMethod None',
      '  MaxSessions 8',
      '  MaxConnections 2',
      ...keys,
      '[UnitControl]',
      '  AuthMethod None',
      '  Portal UC1 127.0.0.1:3261',
      '  Netmask 127.0.0.1',
      '[PortalGroup1]',
      `  Portal DA1 ${o.ip}:3260`,
      '[InitiatorGroup1]',
      '  InitiatorName "ALL"',
      '  Netmask 10.77.0.0/24',
      '[LogicalUnit1]',
      `  TargetName ${name}`,
      '  Mapping PortalGroup1 InitiatorGroup1',
      chap ? `  AuthMethod CHAP${chap.mutual ? ' Mutual' : ''}` : '  AuthMethod None',
      ...(chap ? ['  AuthGroup AuthGroup1'] : []),
      `  UseDigest ${o.digest === 'Required' ? 'Header Data' : 'Auto'}`,
      '  UnitType Disk',
      '  QueueDepth 32',
      `  LUN0 Storage ${image} ${o.image ? 'Auto' : `${mib}MB`}`,
      '',
    ].join('\n'),
  );
  const pid = host.daemon('istgt', ISTGT, ['-c', conf, '-D', '-q']);
  const until = Date.now() + 10_000;
  while (!(await listening(o.ip, 3260))) {
    if (Date.now() > until) throw new Error(`istgt did not listen on ${o.ip}:3260 (see the lab log ${host.ns}-istgt)`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { iqn: `${NODE_BASE}:${name}`, portal: { host: o.ip, port: 3260 }, image, pid };
}

/** Whether something accepts TCP connections on host:port. */
export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port }, () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}
