import { fail } from '../../../shared/errors';
import type { DiscoveredTarget, DiscoveryResult } from '../../../shared/iscsi';
import { withDeadline } from './connection';
import { MAX_NAME_LENGTH } from './pdu';
import { IscsiSession, parseTargetAddress, type LoginOptions } from './session';

/** iSCSI names as we accept them from a target: RFC 3720 §3.2.6 characters, ASCII only. */
const NAME_RE = /^(iqn\.\d{4}-\d{2}\.[a-z0-9.\-:]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16}(?:[0-9A-Fa-f]{16})?)$/i;

/**
 * Parses a SendTargets reply (RFC 7143 appendix C): TargetName starts a target, each
 * TargetAddress after it adds a portal. Hostile or malformed entries are dropped with a warning.
 */
export function parseSendTargets(keys: Array<[string, string]>, defaultPortal: { address: string; port: number }): { targets: DiscoveredTarget[]; warnings: string[] } {
  const targets: DiscoveredTarget[] = [];
  const warnings: string[] = [];
  let cur: DiscoveredTarget | undefined;
  for (const [k, v] of keys) {
    if (k === 'TargetName') {
      if (v.length > MAX_NAME_LENGTH || !NAME_RE.test(v)) {
        warnings.push(`ignored a target with an invalid name ${JSON.stringify(v.slice(0, 80))}`);
        cur = undefined;
        continue;
      }
      cur = targets.find((t) => t.name === v);
      if (!cur) {
        cur = { name: v, portals: [] };
        targets.push(cur);
      }
    } else if (k === 'TargetAddress') {
      if (!cur) continue;
      const a = parseTargetAddress(v);
      if (!a) {
        warnings.push(`ignored an invalid TargetAddress ${JSON.stringify(v.slice(0, 80))} of ${cur.name}`);
        continue;
      }
      if (!cur.portals.some((p) => p.address === a.address && p.port === a.port)) cur.portals.push(a);
    }
  }
  // RFC 7143 appendix C: a target listed without addresses is reachable on the discovery portal.
  for (const t of targets) if (t.portals.length === 0) t.portals.push({ ...defaultPortal });
  return { targets, warnings };
}

/**
 * SendTargets=All discovery on one portal: login (Discovery), text request with continuation,
 * logout — all within `deadlineMs` when given.
 */
export async function discover(o: Omit<LoginOptions, 'sessionType' | 'targetName'>): Promise<DiscoveryResult> {
  return withDeadline(o, `Discovery on ${o.host}:${o.port}`, async (signal) => {
    const t0 = Date.now();
    const s = await IscsiSession.login({ ...o, signal, sessionType: 'Discovery' });
    try {
      const reply = await s.text([['SendTargets', 'All']]);
      const r = parseSendTargets(reply.keys, { address: o.host, port: o.port });
      return { portal: { address: o.host, port: o.port }, ...r, replyBytes: reply.bytes, replyPdus: reply.pdus, durationMs: Date.now() - t0 };
    } finally {
      await s.logout();
    }
  });
}

/**
 * Merges discovery results of several portals: the same target seen through two portals is
 * one target with both portals (targets like tgt list only the portal that was asked).
 */
export function mergeDiscoveries(results: DiscoveryResult[]): DiscoveredTarget[] {
  const byName = new Map<string, DiscoveredTarget>();
  for (const r of results) {
    for (const t of r.targets) {
      const cur = byName.get(t.name) ?? { name: t.name, portals: [] };
      for (const p of t.portals) if (!cur.portals.some((q) => q.address === p.address && q.port === p.port)) cur.portals.push({ ...p });
      byName.set(t.name, cur);
    }
  }
  return [...byName.values()];
}

/** Refuses a target name that is not a well-formed iSCSI name before it is sent anywhere. */
export function checkTargetName(name: string): void {
  if (name.length > MAX_NAME_LENGTH || !NAME_RE.test(name)) fail('INVALID_INPUT', `"${name.slice(0, 80)}" is not a valid iSCSI target name`, { field: 'target', hint: 'Target names look like iqn.2004-04.com.qnap:ts-453:iscsi.disk1.abc123 — copy it from discovery.' });
}
