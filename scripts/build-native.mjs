#!/usr/bin/env node
/**
 * Builds the native TFTP data pump (electron/services/bootserver/native/tftp_pump.c) into
 * native/build/tftp_pump.node with the C compiler and Node's own headers (no download, no
 * node-gyp). Run by `npm install`/`npm ci` (postinstall). Never fails the install: without a
 * compiler or headers, or on a platform other than Linux, it says so in one line and exits 0,
 * and the server uses its JS path. BOOTCHAIN_NATIVE_BUILD=0 skips it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const dir = path.join(root, 'electron/services/bootserver/native');
const out = path.join(dir, 'build', 'tftp_pump.node');
const say = (m) => process.stdout.write(`build-native: ${m}\n`);

function main() {
  if (process.env.BOOTCHAIN_NATIVE_BUILD === '0') return say('skipped (BOOTCHAIN_NATIVE_BUILD=0); the TFTP server uses its JS path');
  if (process.platform !== 'linux') return say(`not built on ${process.platform} (Linux only); the TFTP server uses its JS path`);
  const candidates = [
    process.env.BOOTCHAIN_NODE_HEADERS,
    path.resolve(path.dirname(process.execPath), '../include/node'),
    '/usr/include/node',
    '/usr/local/include/node',
  ].filter(Boolean);
  const inc = candidates.find((d) => existsSync(path.join(d, 'node_api.h')));
  if (!inc) return say(`no Node headers (node_api.h) in ${candidates.join(', ')}; not built, the TFTP server uses its JS path`);
  const cc = process.env.CC || 'cc';
  if (spawnSync(cc, ['--version'], { stdio: 'ignore' }).status !== 0) return say(`no C compiler (${cc}); not built, the TFTP server uses its JS path`);
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  try {
    execFileSync(cc, ['-O2', '-std=gnu11', '-Wall', '-fPIC', '-shared', '-DNODE_GYP_MODULE_NAME=tftp_pump', `-I${inc}`, '-o', tmp, path.join(dir, 'tftp_pump.c'), '-lpthread'], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch (e) {
    return say(`the compiler failed (${e.message.split('\n')[0]}); not built, the TFTP server uses its JS path`);
  }
  renameSync(tmp, out); // a running server that loaded the old file keeps its copy
  say(`built ${path.relative(root, out)} (headers ${inc})`);
}

main();
