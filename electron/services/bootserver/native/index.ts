/**
 * Loads the native TFTP data pump (tftp_pump.c, built by scripts/build-native.mjs into
 * native/build/tftp_pump.node). `loadPump()` returns the pump, or undefined and the reason
 * (not built, not loadable, turned off with BOOTCHAIN_TFTP_NATIVE=0): then the server uses its
 * JS loop. BOOTCHAIN_TFTP_NATIVE_PATH names another .node file (a packaged app's unpacked copy).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

export interface PumpOptions {
  /** The address to send from (the server's), or any. */
  local?: string;
  peer: string;
  port: number;
  /** The open file's descriptor (the caller keeps it open until `onEnd`). */
  fd: number;
  size: number;
  blksize: number;
  window: number;
  timeoutMs: number;
  retries: number;
  idleMs: number;
  maxMs: number;
  /** The OACK packet to send first (then ACK 0 is awaited), when options were taken. */
  oack?: Buffer;
}

export interface PumpHandle {
  /** Ends the transfer (the client gets an ERROR with the reason); seen within 0.1 s. */
  abort(reason: string): void;
  /** Bytes acknowledged so far. */
  sent(): number;
  localPort?: number;
}

export interface NativePump {
  /** Starts the transfer's socket and thread; `cb(false, null, bytes)` is progress, `cb(true, error|null, bytes)` the end (once). */
  start(o: PumpOptions, cb: (done: boolean, error: string | null, bytes: number) => void): PumpHandle;
  version: number;
}

let loaded: { pump?: NativePump; reason?: string } | undefined;

/** Where the .node file may be: beside this source (tsx, vitest), from the bundle in out/main, or unpacked beside a packaged app's asar. */
function candidates(): string[] {
  const here = __dirname;
  const rel = 'electron/services/bootserver/native/build/tftp_pump.node';
  const res = (process as { resourcesPath?: string }).resourcesPath;
  return [
    process.env.BOOTCHAIN_TFTP_NATIVE_PATH,
    path.join(here, 'build/tftp_pump.node'),
    path.join(here, 'build/Release/tftp_pump.node'), // node-gyp's (binding.gyp), e.g. electron-builder's rebuild
    // From the bundle (out/main, out/main/chunks): the repository's copy.
    ...[1, 2, 3, 4].map((up) => path.resolve(here, ...Array<string>(up).fill('..'), rel)),
    res ? path.join(res, 'app.asar.unpacked', rel) : undefined,
  ].filter((p): p is string => !!p);
}

export function loadPump(): { pump?: NativePump; reason?: string } {
  if (process.env.BOOTCHAIN_TFTP_NATIVE === '0') return { reason: 'turned off (BOOTCHAIN_TFTP_NATIVE=0)' };
  if (loaded) return loaded;
  if (process.platform !== 'linux') return (loaded = { reason: `not built for ${process.platform}` });
  const file = candidates().find((p) => existsSync(p));
  if (!file) return (loaded = { reason: 'not built (npm install runs scripts/build-native.mjs)' });
  try {
    const pump = createRequire(file)(file) as NativePump;
    if (typeof pump.start !== 'function') return (loaded = { reason: `${file} is not the TFTP pump` });
    return (loaded = { pump });
  } catch (e) {
    return (loaded = { reason: `cannot load ${file}: ${(e as Error).message}` });
  }
}
