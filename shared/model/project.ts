/**
 * The project: one NAS, one router, the workstations and the build options. Saved as JSON in
 * the app's data folder (versioned, migrated on load); secrets are stored by reference only —
 * `secretRef` names an entry of the OS keychain (or, for the CLI, a secrets file / environment).
 */
import { z } from 'zod';
import { isIPv4, parseBlock } from '../ipv4';
import { checkChapUser } from './chap';
import { checkIqn, duplicateIqns, normaliseIqn } from './iqn';
import { parseMac } from './mac';
import { Remembered } from './remembered';

/** The project format this Bootchain writes. */
export const PROJECT_VERSION = 1;

const ipv4 = (what: string) =>
  z.string().refine(isIPv4, { message: `${what} must be an IPv4 address like 192.168.1.20 (an IP, not a DNS name: the boot firmware cannot resolve names)` });
const port = z.number().int().min(1).max(65535);
const iqn = z.string().superRefine((v, ctx) => {
  const r = checkIqn(v);
  if (!r.ok) ctx.addIssue({ code: 'custom', message: `invalid iSCSI name: ${r.reason}` });
});
const mac = z.string().superRefine((v, ctx) => {
  const r = parseMac(v);
  if (!r.ok) ctx.addIssue({ code: 'custom', message: r.reason });
});
const hostname = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'a host name: a-z, 0-9 and "-" (not at the ends), at most 63 characters');
const secretRef = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'a secret reference: a-z, 0-9, ".", "_", "-"');
const chapUser = z.string().superRefine((v, ctx) => {
  const r = checkChapUser(v);
  if (!r.ok) ctx.addIssue({ code: 'custom', message: r.reason });
});
/** A path on the NAS: absolute, no "..", nothing a shell or script would interpret. */
export const remotePath = z.string().regex(/^\/[A-Za-z0-9._/-]*$/, 'an absolute path of letters, digits, ".", "_", "-" and "/"').refine((p) => !p.split('/').includes('..'), { message: '".." is not allowed' });

export const Chap = z
  .object({
    username: chapUser,
    secretRef,
    mutual: z.object({ username: chapUser, secretRef }).strict().optional(),
  })
  .strict()
  .refine((c) => !c.mutual || c.mutual.secretRef !== c.secretRef, { message: 'the mutual CHAP secret must be a different secret', path: ['mutual', 'secretRef'] });

export const Workstation = z
  .object({
    name: hostname,
    mac: mac,
    firmware: z.enum(['bios', 'uefi']),
    /** Target IQN of the workstation's disk. */
    target: iqn,
    /** The LUN that holds the disk: take it from the probe (tgt: 1; QNAP: 0). */
    lun: z.number().int().min(0).max(16383),
    /** Portals of the target; several make a multipath sanboot. Default: the NAS. */
    portals: z.array(z.object({ address: ipv4('portal address'), port: port.default(3260) }).strict()).max(4).optional(),
    initiatorIqn: iqn,
    chap: Chap.optional(),
    /** Keep the SAN device attached if booting from it fails (sanboot --keep). */
    keepSan: z.boolean().default(false),
    /** UEFI: the file on the disk's ESP to start (sanboot --filename). */
    uefiFilename: z
      .string()
      .regex(/^\\?[A-Za-z0-9_.\\/-]*[A-Za-z0-9_.-]$/, 'a path like \\EFI\\BOOT\\BOOTX64.EFI (letters, digits, _ . - \\ /; not ending with "\\")')
      .optional(),
    /** How the installed OS builds its initramfs (decides the kernel parameters). */
    initramfs: z.enum(['genkernel', 'dracut', 'initramfs-tools']).default('genkernel'),
    /** root= for dracut and initramfs-tools (e.g. UUID=…); genkernel finds the root itself. */
    root: z
      .string()
      .regex(/^[A-Za-z0-9=/_.:-]+$/, 'a root= value like UUID=1234-abcd or /dev/sda2')
      .optional(),
  })
  .strict();
export type Workstation = z.output<typeof Workstation>;

export const ROUTER_KINDS = ['mikrotik', 'dnsmasq', 'isc', 'kea', 'openwrt'] as const;

export const Project = z
  .object({
    version: z.literal(PROJECT_VERSION),
    /** Also a file and folder name (saved project, build output, served files): no path in it. */
    name: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a project name: letters, digits, ".", "_", "-" (it names files)')
      .refine((n) => !n.includes('..'), { message: '".." is not allowed in a project name' }),
    nas: z
      .object({
        address: ipv4('the NAS address'),
        iscsiPort: port.default(3260),
        tftpRoot: remotePath.default('/srv/tftp'),
        ssh: z.object({ host: ipv4('the SSH host'), port: port.default(22), user: z.string().regex(/^[a-z_][a-z0-9_.-]{0,31}$/, 'a user name') }).strict().optional(),
      })
      .strict(),
    router: z
      .object({
        kind: z.enum(ROUTER_KINDS).default('dnsmasq'),
        /**
         * DHCP option 17 for Bootchain's iPXE: empty (the recipe: everything on the TFTP server
         * that served iPXE), or a URL prefix such as http://192.168.1.20/boot.
         */
        rootPath: z
          .string()
          .regex(/^((tftp|http|https):\/\/[A-Za-z0-9.\-:[\]]+(\/[A-Za-z0-9._~/-]*)?)?$/, 'empty, or a URL like http://192.168.1.20/boot (no spaces, quotes or "${")')
          .refine((v) => !v.endsWith('/'), { message: 'leave out the trailing "/" (scripts add it)' })
          .default(''),
        /** The subnet the router serves, for full configs (optional: snippets otherwise). */
        subnet: z
          .object({
            cidr: z.string().refine((v) => /\/\d{1,2}$/.test(v) && parseBlock(v).ok, { message: 'a CIDR like 192.168.1.0/24' }),
            rangeStart: ipv4('range start'),
            rangeEnd: ipv4('range end'),
            gateway: ipv4('gateway').optional(),
            dns: ipv4('DNS server').optional(),
            interface: z.string().regex(/^[A-Za-z0-9._-]{1,15}$/, 'an interface name like eth0 or bridge1').default('eth0'),
          })
          .strict()
          .optional(),
        /** MikroTik: the name of the /ip dhcp-server the matcher attaches to. */
        dhcpServerName: z.string().regex(/^[A-Za-z0-9._-]{1,32}$/, 'a RouterOS name').default('dhcp1'),
      })
      .strict(),
    iqn: z
      .object({
        domain: z.string().regex(/^([a-z0-9]([a-z0-9-]*[a-z0-9])?\.)+[a-z]{2,}$/, 'a domain you own, like example.org'),
        date: z.string().regex(/^\d{4}-(0[1-9]|1[0-2])$/, 'YYYY-MM, a month when you owned the domain'),
        template: z.string().max(200).default('iqn.%date%.%domain%:%hostname%-%hexraw%'),
      })
      .strict(),
    boot: z
      .object({
        biosFile: z.enum(['undionly.kpxe', 'undionly.kkpxe', 'ipxe.pxe']).default('undionly.kpxe'),
        uefiFile: z.enum(['snponly.efi', 'ipxe.efi']).default('snponly.efi'),
        /** The user-class our embedded script sets, so the router can tell our iPXE apart. */
        userClass: z.string().regex(/^[A-Za-z0-9._-]{1,32}$/, 'letters, digits, ".", "_", "-"').default('bootchain'),
        /**
         * The live boot watch (issue 19): when set, the generated scripts report their progress —
         * `markers`: a tiny HTTP fetch per stage from this computer (http://ADDR:PORT; a fetch that
         * fails never stops the boot); `syslog`: iPXE's console lines to this address's syslog
         * port (514), with the workstation's name as the syslog hostname.
         */
        watch: z
          .object({
            markers: z
              .string()
              .regex(/^http:\/\/(\d{1,3}\.){3}\d{1,3}(:\d{1,5})?$/, 'a URL like http://192.168.1.10:8080 (this computer\'s address, no path)')
              .refine((u) => isIPv4(/^http:\/\/([\d.]+)/.exec(u)?.[1] ?? '') && Number(/:(\d+)$/.exec(u.slice(7))?.[1] ?? 80) >= 1 && Number(/:(\d+)$/.exec(u.slice(7))?.[1] ?? 80) <= 65535, { message: 'an IPv4 address and a port 1-65535' })
              .optional(),
            syslog: ipv4('the syslog receiver').optional(),
          })
          .strict()
          .optional(),
      })
      .strict()
      .default({ biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', userClass: 'bootchain' }),
    workstations: z.array(Workstation).max(256).default([]),
    /** The Upload and Build settings and the last results (no secret): remembered.ts. Optional, so older files load. */
    remembered: Remembered.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    const seen = (key: (w: Workstation) => string, what: string, field: string) => {
      const count = new Map<string, number>();
      p.workstations.forEach((w, i) => {
        const k = key(w);
        if (count.has(k)) ctx.addIssue({ code: 'custom', path: ['workstations', i, field], message: `${what} ${k} is used by another workstation` });
        count.set(k, i);
      });
    };
    seen((w) => w.name, 'name', 'name');
    seen((w) => parseMac(w.mac).ok ? (parseMac(w.mac) as { value: string }).value : w.mac, 'MAC', 'mac');
    const dups = duplicateIqns(p.workstations.map((w) => w.initiatorIqn));
    p.workstations.forEach((w, i) => {
      if (dups.includes(normaliseIqn(w.initiatorIqn))) ctx.addIssue({ code: 'custom', path: ['workstations', i, 'initiatorIqn'], message: `initiator IQN ${w.initiatorIqn} is used by another workstation: each needs its own` });
      if (w.firmware === 'bios' && w.uefiFilename) ctx.addIssue({ code: 'custom', path: ['workstations', i, 'uefiFilename'], message: 'a UEFI file name only applies to UEFI workstations' });
      if (w.initramfs !== 'genkernel' && !w.root) ctx.addIssue({ code: 'custom', path: ['workstations', i, 'root'], message: `${w.initramfs} needs root= (e.g. UUID=… of the installed root file system)` });
    });
  });
export type ProjectInput = z.input<typeof Project>;
export type Project = z.output<typeof Project>;

/** A field and what is wrong with it. */
export interface FieldError {
  field: string;
  message: string;
}

/** All field errors as one sentence: "nas.address: …; workstations[0].mac: …". */
export function describeFieldErrors(errors: FieldError[]): string {
  return errors.map((e) => `${e.field}: ${e.message}`).join('; ');
}

/** Formats a zod path like workstations[0].mac. */
export function fieldPath(path: PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** Steps from each older version to the next (version n -> n+1). */
export type Migrations = Record<number, (p: Record<string, unknown>) => Record<string, unknown>>;
export const MIGRATIONS: Migrations = {};

/** Brings a saved project to the current version, or says why it cannot. */
export function migrateProject(raw: unknown, migrations: Migrations = MIGRATIONS, target = PROJECT_VERSION): { ok: true; value: Record<string, unknown> } | { ok: false; error: FieldError } {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return { ok: false, error: { field: '', message: 'a project file holds one JSON object' } };
  let p = raw as Record<string, unknown>;
  const v = p.version;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) return { ok: false, error: { field: 'version', message: 'missing or invalid version: this is not a Bootchain project file' } };
  if (v > target) return { ok: false, error: { field: 'version', message: `made by a newer Bootchain (project version ${v}, this one reads up to ${target}): update Bootchain` } };
  for (let n = v; n < target; n++) {
    const step = migrations[n];
    if (!step) return { ok: false, error: { field: 'version', message: `no migration from project version ${n}` } };
    p = { ...step(p), version: n + 1 };
  }
  return { ok: true, value: p };
}

/** Loads a project (migrating it) with every error named by its field. */
export function loadProject(raw: unknown): { ok: true; value: Project } | { ok: false; errors: FieldError[] } {
  const m = migrateProject(raw);
  if (!m.ok) return { ok: false, errors: [m.error] };
  const r = Project.safeParse(m.value);
  if (r.success) return { ok: true, value: r.data };
  return { ok: false, errors: r.error.issues.map((i) => ({ field: fieldPath(i.path), message: i.message })) };
}
