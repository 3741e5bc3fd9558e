/**
 * The rights Bootchain needs beyond an ordinary user's, what each is for, whether this computer
 * gives it, and the one-time grant that gives it — never running the whole app as root.
 */
import { z } from 'zod';

export const IFNAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
const ifname = z.string().regex(IFNAME_RE, 'an interface name like tap0 (letters, digits, "_", ".", "-"; at most 15)');

export type PrivilegeId = 'low-ports' | 'tap';

export interface PrivilegeItem {
  id: PrivilegeId;
  title: string;
  /** What works only with it. */
  neededFor: string;
  granted: boolean;
  /** How that was decided (uid, capability set, the device's owner...). */
  evidence: string;
  /** What the grant does and what it costs, in plain words. */
  explanation: string;
  /** The commands an administrator runs once (shown, copyable). */
  commands: string[];
  /** How the app can run the grant itself: directly (already root), through pkexec, or not (copy the commands). */
  via: 'root' | 'pkexec' | 'none';
}

export interface PrivilegeStatus {
  user: string;
  uid: number;
  /** The program that needs the right (the app binary, or node for the CLI and harness). */
  exe: string;
  items: PrivilegeItem[];
}

export const PrivilegeStatusInput = z
  .object({
    /** The tap device the VM test boot uses. */
    tap: ifname.default('bctap0'),
    /** The LAN bridge the tap device joins (optional). */
    bridge: ifname.optional(),
  })
  .strict()
  .default({ tap: 'bctap0' });

export const PrivilegeGrantInput = z
  .object({
    id: z.enum(['low-ports', 'tap']),
    tap: ifname.default('bctap0'),
    bridge: ifname.optional(),
  })
  .strict();
