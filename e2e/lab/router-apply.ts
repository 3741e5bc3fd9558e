/**
 * Applies a Router-step snippet to the lab router the way the step tells a dnsmasq user: save it
 * in the dnsmasq.d folder, check it with `dnsmasq --test`, restart dnsmasq. The lab router's
 * dnsmasq runs from the command line (lab.ts): the restart runs the same command line (read from
 * /proc) with `--conf-dir` of that folder added — the router's own settings stay, as a user's
 * would. `restore()` puts the lab router back as it was (the next test sees the fixed lab).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LabInfo } from './lab';

export interface AppliedSnippet {
  /** Where the snippet was saved (the lab's /etc/dnsmasq.d/bootchain.conf). */
  file: string;
  restore(): Promise<void>;
}

const pidFile = (L: LabInfo) => path.join(L.dir, 'dnsmasq.pid');

/** The running router dnsmasq's pid and its command line (after `ip netns exec NS`). */
function running(L: LabInfo): { pid: number; argv: string[] } {
  const pid = Number(readFileSync(pidFile(L), 'utf8').trim());
  const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  return { pid, argv };
}

async function stop(pid: number): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`lab router dnsmasq (pid ${pid}) did not stop`);
}

/** Starts dnsmasq in the router namespace and waits for its pid file. */
async function start(L: LabInfo, argv: string[]): Promise<void> {
  rmSync(pidFile(L), { force: true });
  const log = openSync(path.join(L.dir, 'dnsmasq.log'), 'a');
  const child = spawn('ip', ['netns', 'exec', L.namespaces.router, ...argv], { stdio: ['ignore', log, log], detached: true });
  child.unref();
  for (let i = 0; i < 100; i++) {
    try {
      if (readFileSync(pidFile(L), 'utf8').trim()) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`lab router dnsmasq did not start again (see ${path.join(L.dir, 'dnsmasq.log')})`);
}

/** Saves `text` as bootchain.conf in the router's dnsmasq.d, checks it, restarts dnsmasq with it. */
export async function applyDnsmasqSnippet(L: LabInfo, text: string): Promise<AppliedSnippet> {
  const dir = path.join(L.dir, 'router-dnsmasq.d');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'bootchain.conf');
  writeFileSync(file, text);
  // "Check it with dnsmasq --test" (the step's words); a refused file is never applied.
  const t = spawnSync('/usr/sbin/dnsmasq', ['--test', '-C', file], { encoding: 'utf8' });
  if (t.status !== 0) throw new Error(`dnsmasq --test refused the snippet: ${t.stderr || t.stdout}`);
  const before = running(L);
  // ip netns exec NS dnsmasq …: the command after the namespace name.
  const cmd = before.argv.slice(before.argv.indexOf(L.namespaces.router) + 1);
  await stop(before.pid);
  await start(L, [...cmd, `--conf-dir=${dir}`]);
  return {
    file,
    restore: async () => {
      await stop(running(L).pid);
      await start(L, cmd);
    },
  };
}
