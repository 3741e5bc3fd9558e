/** Verbs of the model alone: no channel, no network (the window does these in its forms). */
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { generateFromRaw } from '../../../shared/gen/artifacts';
import { checkKernelConfig } from '../../../shared/gen/kernel';
import { checkIqn, DEFAULT_IQN_TEMPLATE, generateIqn } from '../../../shared/model/iqn';
import { parseMac } from '../../../shared/model/mac';
import { PROJECT_FLAG, readJsonFile, readTextFile, secretsFrom, SECRETS_FLAG } from '../inputs';
import { usage, verb } from '../options';
import { print, printJson } from '../render';

/** Prints a checked name (or its reason, exit 2). */
function printName(r: { ok: true; value: string } | { ok: false; reason: string }, json: boolean, what: string): number {
  if (json) process.stdout.write(`${JSON.stringify(r)}\n`);
  if (!r.ok) {
    if (!json) process.stderr.write(`bootchain: ${what}${r.reason}\n`);
    return 2;
  }
  if (!json) print(r.value);
  return 0;
}

export const iqn = verb({
  name: 'iqn',
  usage: ['iqn new --domain D --date YYYY-MM --host H', 'iqn check IQN'],
  summary:
    "new: make an initiator IQN like the recipe's `iqn.2007-11.ru.pp.livid:host-mac`; check: exit 0 and the normalised name when valid (iqn./eui./naa., RFC 3720/3721/3722), exit 2 with the reason.",
  flags: [
    { name: 'domain', value: 'D', help: 'new: your domain (the naming authority), e.g. livid.pp.ru' },
    { name: 'date', value: 'YYYY-MM', help: 'new: a month in which you owned the domain' },
    { name: 'host', value: 'H', help: "new: the workstation's host name" },
    { name: 'mac', value: 'M', help: "new: the workstation's MAC (any spelling)" },
    { name: 'template', value: 'T', help: 'new: tokens %date% %domain% %hostname% %mac% %hexraw% (default iqn.%date%.%domain%:%hostname%-%hexraw%, without --mac iqn.%date%.%domain%:%hostname%)' },
  ],
  async run(a) {
    const [sub, ...rest] = a.pos;
    if (sub === 'check') {
      if (rest.length !== 1) throw usage('iqn check takes one name');
      return printName(checkIqn(rest[0]!), a.json, 'invalid iSCSI name: ');
    }
    if (sub !== 'new') throw usage('iqn takes "new" or "check"');
    const domain = a.str('domain');
    const date = a.str('date');
    const host = a.str('host');
    if (!domain || !date || !host) throw usage('iqn new needs --domain, --date YYYY-MM and --host');
    const macText = a.str('mac');
    const m = macText === undefined ? undefined : parseMac(macText);
    if (m && !m.ok) throw usage(`--mac: ${m.reason}`);
    const mac = m?.ok ? m.value : undefined;
    return printName(generateIqn({ domain, date, hostname: host, mac }, a.str('template') ?? (mac ? DEFAULT_IQN_TEMPLATE : 'iqn.%date%.%domain%:%hostname%')), a.json, '');
  },
});

export const generate = verb({
  name: 'generate',
  usage: ['generate --project FILE --out DIR'],
  summary:
    'write every artifact: `embed.ipxe`, `autoexec.ipxe`, `default.ipxe`, a script per workstation, `dhcp/` configs, `kernel/` parameters (see "The project and what it generates"); any invalid value: nothing is written, the field is named, exit 2.',
  flags: [PROJECT_FLAG, { name: 'out', value: 'DIR', help: 'where the files go (moved in only when all are written)' }, SECRETS_FLAG],
  async run(a) {
    const projectFile = a.str('project');
    const outDir = a.str('out');
    if (!projectFile || !outDir) throw usage('generate needs --project FILE and --out DIR');
    const raw = readJsonFile('project', projectFile);
    const refs = JSON.stringify(raw).match(/"secretRef":"([^"]+)"/g)?.map((x) => x.slice(13, -1)) ?? [];
    const r = generateFromRaw(raw, await secretsFrom(a, refs));
    if (!r.ok) {
      if (a.json) printJson({ errors: r.errors });
      for (const e of r.errors) process.stderr.write(`bootchain: ${e.field || 'project'}: ${e.message}\n`);
      process.stderr.write('Nothing was written.\n');
      return 2;
    }
    // Write into a fresh folder beside the target, then move the files in: a failure leaves DIR as it was.
    const out = path.resolve(outDir);
    const staging = mkdtempSync(path.join(path.dirname(out), '.bootchain-gen-'));
    try {
      for (const [rel, text] of Object.entries(r.files)) {
        mkdirSync(path.dirname(path.join(staging, rel)), { recursive: true });
        writeFileSync(path.join(staging, rel), text, { mode: 0o644 });
      }
      for (const rel of Object.keys(r.files)) {
        mkdirSync(path.dirname(path.join(out, rel)), { recursive: true });
        renameSync(path.join(staging, rel), path.join(out, rel));
      }
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
    const files = Object.keys(r.files).sort();
    if (a.json) printJson({ out, files, warnings: r.warnings });
    else {
      for (const f of files) print(path.join(out, f));
      for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
    }
    return 0;
  },
});

export const kernelCheck = verb({
  name: 'kernel-check',
  usage: ['kernel-check <.config>'],
  summary: 'the kernel options the recipe needs, built in, module or missing (exit 1 when a required one is missing)',
  flags: [],
  async run(a) {
    const file = a.pos[0];
    if (!file || a.pos.length > 1) throw usage('kernel-check takes the path of a kernel .config');
    const r = checkKernelConfig(readTextFile(file, file));
    if (a.json) printJson(r);
    else {
      for (const c of r.checks) print(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(24)} ${c.state.padEnd(8)} ${c.why}; ${c.note}`);
      if (r.needsInitramfs) print('iSCSI is built as modules: boot with an initramfs that has iSCSI (genkernel --iscsi initramfs).');
      if (!r.hostname) print('advised: CONFIG_DEFAULT_HOSTNAME="name" (the recipe)');
    }
    return r.checks.every((c) => c.ok) ? 0 : 1;
  },
});
