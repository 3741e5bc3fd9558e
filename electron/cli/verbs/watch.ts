import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { CHAIN_LINKS } from '../../../shared/verify';
import { verdictOf, WATCH_STAGES, watchMarkdown, type WatchItem, type WatchReport, type WatchStartInput } from '../../../shared/watch';
import { isIPv4 } from '../../../shared/ipv4';
import { PROJECT_FLAG, projectFrom, projectSecrets, SECRETS_FLAG, targetFrom, TARGET_FLAGS, trustFirst, withTrustHint } from '../inputs';
import { usage, verb } from '../options';
import { print } from '../render';
import { Session } from '../session';

const linkTitle = (id: string) => CHAIN_LINKS.find((l) => l.id === id)?.title ?? id;
const stageWhat = (id: string) => WATCH_STAGES.find((s) => s.id === id)?.what ?? id;
const secs = (ms: number) => `${(ms / 1000).toFixed(1).padStart(6)} s`;

/** One line per station verdict (the NDJSON's last lines, and the text summary). */
export function verdictLines(r: WatchReport): Array<{ type: 'verdict'; station: string; mac: string; verdict: ReturnType<typeof verdictOf>; reached?: string | undefined; stoppedAt?: string | undefined; why?: string | undefined; check?: unknown }> {
  return r.stations.map((t) => ({
    type: 'verdict' as const,
    station: t.station,
    mac: t.mac,
    verdict: verdictOf(t),
    reached: t.stages.at(-1)?.id,
    ...(t.stopped ? { stoppedAt: t.stopped.link, why: t.stopped.why, ...(t.stopped.check ? { check: t.stopped.check } : {}) } : {}),
  }));
}

export const watch = verb({
  name: 'watch',
  usage: ['watch --project FILE [--station NAME]'],
  summary:
    'follow a real workstation\'s boot live — power it on while this runs — and print each stage as it is seen; a boot that errs or stalls is "stopped at <link>" with Verify\'s check of that link; exit 1 when a station stopped or did not finish (see "Watching a real boot").',
  about:
    "Sources, each optional: the scripts' stage markers (the project's boot.watch.markers: this computer's address and HTTP port, which the generated scripts fetch once per stage — upload after setting it), iPXE's syslog (boot.watch.syslog or --syslog; iPXE sends to UDP 514, which needs the ports grant; Bootchain's builds have the syslog console, Debian's stock iPXE has not), the workstations' DHCP broadcasts (UDP 67, the ports grant), and with --nas the NAS's iSCSI sessions over the upload's SSH login (tgtadm, LIO, istgtcontrol, else ss). A source that cannot start is printed with why, and the watch goes on with the others. Ctrl-C ends the watch with its report; a second Ctrl-C cancels it.",
  flags: [
    PROJECT_FLAG,
    { name: 'station', value: 'NAMES', help: 'the workstations to watch, comma-separated (default: all)', field: 'stations' },
    SECRETS_FLAG,
    { name: 'syslog', value: 'ADDR[:PORT]', help: "receive iPXE's syslog here (default: the project's boot.watch.syslog on port 514)", field: 'syslog' },
    { name: 'no-markers', help: "do not listen for the scripts' stage markers" },
    { name: 'no-dhcp', help: 'do not listen for the DHCP broadcasts (UDP 67)' },
    { name: 'nas', help: "poll the NAS's iSCSI sessions over SSH, logging in as upload does (--key, --agent or --password; --host/--user default to the project's nas.ssh)" },
    ...TARGET_FLAGS.filter((f) => ['host', 'port', 'user', 'key', 'agent', 'password', 'trust', 'known-hosts'].includes(f.name)),
    { name: 'tgt-control-port', value: 'N', help: "tgtd's control port on the NAS when it is not 0 (tgtd -C N)", field: 'nas.tgtControlPort' },
    { name: 'sudo', help: 'run tgtadm on the NAS through sudo -n' },
    { name: 'stall', value: 'S', help: 'a started boot with nothing new for S seconds has stopped, 3 to 600 (default 60; three times that after the SAN login, while the OS loads)', field: 'stallSeconds' },
    { name: 'minutes', value: 'MIN', help: 'end the watch after MIN minutes, 1 to 240 (default 20)', field: 'minutes' },
    { name: 'no-check', help: "do not run Verify's check of the link a boot stopped at" },
    { name: 'report', value: 'FILE', help: 'also save the watched boot as FILE: Markdown (.md) or JSON (.json)' },
  ],
  async run(a) {
    const { raw, project: p } = projectFrom(a, 'watch');
    const stations = a.str('station')?.split(',').map((s) => s.trim()).filter(Boolean);
    let syslog: WatchStartInput['syslog'];
    const sl = a.str('syslog');
    if (sl) {
      const m = /^([\d.]+)(?::(\d{1,5}))?$/.exec(sl);
      if (!m || !isIPv4(m[1]!) || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535))) throw usage('--syslog takes ADDR or ADDR:PORT, an IPv4 address of this computer');
      syslog = { address: m[1]!, port: m[2] ? Number(m[2]) : 514 };
    }
    const report = a.str('report');
    if (report && !/\.(md|json)$/i.test(report)) throw usage('--report FILE must end in .md (Markdown) or .json');
    const secrets = await projectSecrets(a, p);
    const s = new Session({ secrets });
    let nas: WatchStartInput['nas'];
    let project = raw;
    if (a.has('nas')) {
      // The upload's login (targetFrom: --host/--user/--port over the project's nas.ssh, and the auth); the watch polls that server.
      const target = await targetFrom(a, p);
      if (target.kind !== 'ssh') throw usage('--nas logs in over SSH');
      await trustFirst(s, a, target).catch(withTrustHint);
      nas = { auth: target.auth, tgtControlPort: a.int('tgt-control-port'), sudo: a.has('sudo') };
      project = { ...(raw as object), nas: { ...p.nas, ssh: { host: target.host, port: target.port ?? 22, user: target.user } } };
    }
    const json = a.json;
    const say = (line: string) => !a.quiet && process.stderr.write(`${line}\n`);
    const shown = new Map<string, number>();
    const onItem = (i: WatchItem) => {
      if (json) return void process.stdout.write(`${JSON.stringify(i)}\n`);
      if (i.type === 'source') return say(`${i.source.source}: ${i.source.state}: ${i.source.detail}`);
      if (i.type === 'event') return a.verbose ? say(`${secs(i.at)}  ${i.station ?? '?'}  ${i.source}: ${i.evidence}`) : undefined;
      const t = i.timeline;
      for (const st of t.stages.slice(shown.get(t.station) ?? 0)) print(`${secs(st.at)}  ${t.station}  ${stageWhat(st.id)} (${st.source}: ${st.evidence})`);
      shown.set(t.station, t.stages.length);
      if (t.stopped && !t.stopped.check) print(`${secs(t.stopped.at)}  ${t.station}  STOPPED at ${linkTitle(t.stopped.link)}: ${t.stopped.why}`);
      if (t.stopped?.check) print(`          ${t.station}  Verify's check of ${linkTitle(t.stopped.check.link)}: ${t.stopped.check.status.toUpperCase()} ${t.stopped.check.summary}${t.stopped.check.fix ? `\n          fix: ${t.stopped.check.fix}` : ''}`);
    };
    const r: WatchReport = await s.job(
      'watch:start',
      {
        project,
        ...(stations?.length ? { stations } : {}),
        markers: !a.has('no-markers'),
        ...(syslog ? { syslog } : {}),
        dhcp: !a.has('no-dhcp'),
        ...(nas ? { nas } : {}),
        ...(a.int('stall') !== undefined ? { stallSeconds: a.int('stall') } : {}),
        ...(a.int('minutes') !== undefined ? { minutes: a.int('minutes') } : {}),
        check: !a.has('no-check'),
      },
      {
        out: a,
        logs: a.verbose ? 'verbose' : 'error',
        item: onItem,
        interrupt: (jobId) => {
          say('ending the watch (Ctrl-C again cancels it without a report)');
          void s.call('watch:stop', { jobId }).catch(() => undefined);
        },
      },
    );
    if (report) writeFileSync(path.resolve(report), /\.json$/i.test(report) ? `${JSON.stringify(r, null, 2)}\n` : watchMarkdown(r));
    const verdicts = verdictLines(r);
    if (json) for (const v of verdicts) process.stdout.write(`${JSON.stringify(v)}\n`);
    else
      for (const v of verdicts)
        print(
          v.verdict === 'booted'
            ? `${v.station}: booted — every stage up to the OS's own iSCSI login was seen`
            : v.verdict === 'stopped'
              ? `${v.station}: the boot stops at ${linkTitle(v.stoppedAt!)}: ${v.why}`
              : v.verdict === 'watching'
                ? `${v.station}: not finished when the watch ended (last: ${stageWhat(v.reached!)})`
                : `${v.station}: not seen (was it powered on? do its scripts carry the markers — upload after setting them?)`,
        );
    if (report) say(`report saved to ${path.resolve(report)}`);
    return verdicts.every((v) => v.verdict === 'booted') ? 0 : 1;
  },
});
