import { appError, type AppError } from '../../../shared/errors';

/** What the login was for, so messages can name it. */
export interface LoginContext {
  peer: string;
  initiatorName: string;
  targetName?: string | undefined;
  sessionType: 'Discovery' | 'Normal';
  usedChap: boolean;
}

const hex = (c: number, d: number) => `0x${c.toString(16).padStart(2, '0')}${d.toString(16).padStart(2, '0')}`;

/**
 * Maps a Login Response status (RFC 7143 §11.13.5) to our error, with a hint a homelab user
 * can act on. Class 1 (redirect) is handled by the login itself.
 */
export function loginStatusError(cls: number, detail: number, ctx: LoginContext): AppError {
  const code = hex(cls, detail);
  const what = ctx.sessionType === 'Discovery' ? `discovery on ${ctx.peer}` : `login to ${ctx.targetName ?? '?'} on ${ctx.peer}`;
  const d = { detail: `login status ${code}` };
  if (cls === 2) {
    switch (detail) {
      case 0x01:
        return appError('AUTH_FAILED', `Authentication failed for ${what}`, {
          ...d,
          hint: ctx.usedChap
            ? 'CHAP secret or user wrong: check the CHAP user name and secret set on the NAS for this target.'
            : 'The target requires CHAP: enter the CHAP user name and secret set on the NAS.',
        });
      case 0x02:
        return appError('PERMISSION_DENIED', `The target refused initiator ${ctx.initiatorName}`, {
          ...d,
          hint: `The target's ACL does not allow initiator IQN ${ctx.initiatorName}: add it to the target's allowed initiators on the NAS.`,
        });
      case 0x03:
        return appError('TARGET_NOT_FOUND', `No such target: ${ctx.targetName ?? '(none given)'} on ${ctx.peer}`, {
          ...d,
          hint: 'Check the target IQN (a typo is the usual cause); run discovery to list the targets this portal offers.',
        });
      case 0x04:
        return appError('TARGET_NOT_FOUND', `Target ${ctx.targetName ?? ''} was removed from ${ctx.peer}`, {
          ...d,
          hint: 'The target no longer exists on the NAS: run discovery again and pick a listed target.',
        });
      case 0x05:
        return appError('PROTOCOL_ERROR', `${ctx.peer} does not support iSCSI version 0x00`, { ...d, hint: 'Update the NAS firmware; Bootchain speaks RFC 7143 iSCSI.' });
      case 0x06:
        return appError('BUSY', `${ctx.peer} refused another connection`, { ...d, hint: 'Too many connections to this target: log out other initiators, then retry.', retryable: true });
      case 0x07:
        return appError('PROTOCOL_ERROR', `${ctx.peer} says a login parameter is missing`, { ...d, hint: 'Report this: the target wants a key Bootchain did not send.' });
      case 0x09:
        return appError('PROTOCOL_ERROR', `${ctx.peer} does not support ${ctx.sessionType} sessions`, { ...d, hint: 'Use the target IQN directly instead of discovery.' });
      default:
        return appError('PROTOCOL_ERROR', `${ctx.peer} refused the ${what} (initiator error ${code})`, { ...d, hint: 'Check the target settings on the NAS.' });
    }
  }
  if (cls === 3) {
    return appError('COMMAND_FAILED', `${ctx.peer} had an error during ${what} (${code})`, {
      ...d,
      hint: detail === 0x01 ? 'The iSCSI service is temporarily unavailable: wait a moment and retry.' : 'The NAS reported an internal error or is out of resources: retry, then check its logs.',
      retryable: true,
    });
  }
  return appError('PROTOCOL_ERROR', `${ctx.peer} answered the login with unknown status ${code}`, { ...d, hint: 'Check that this is an iSCSI target.' });
}

/** SCSI sense (SPC-4 §4.5): key, ASC, ASCQ from fixed or descriptor format. */
export interface Sense {
  key: number;
  asc: number;
  ascq: number;
}

/** Parses sense data; undefined when absent or malformed. */
export function parseSense(buf: Buffer): Sense | undefined {
  if (buf.length < 2) return undefined;
  const code = buf[0]! & 0x7f;
  if ((code === 0x70 || code === 0x71) && buf.length >= 14) return { key: buf[2]! & 0x0f, asc: buf[12]!, ascq: buf[13]! };
  if ((code === 0x72 || code === 0x73) && buf.length >= 4) return { key: buf[1]! & 0x0f, asc: buf[2]!, ascq: buf[3]! };
  return undefined;
}

/** SCSI sense keys by name. */
export const SenseKey = { NoSense: 0, NotReady: 2, MediumError: 3, IllegalRequest: 5, UnitAttention: 6 } as const;
