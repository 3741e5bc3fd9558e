import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { BHS_LENGTH, buildLoginRequest, Opcode, parseBhs, parseLoginResponseHead, Stage } from './pdu';

/** Initiator name the scanner uses for its discovery login attempt. */
export const SCANNER_INITIATOR = 'iqn.2024-01.io.bootchain:scanner';

/** What the check concluded about one open port. */
export interface IscsiProbe {
  iscsi: boolean;
  evidence: string;
}

/** Printable preview of bytes that are not iSCSI, for the evidence text. */
function preview(buf: Buffer): string {
  const s = buf.subarray(0, 24).toString('latin1').replace(/[^\x20-\x7e]/g, '.');
  return `"${s}"`;
}

/**
 * Decides whether an open port speaks iSCSI: it sends a discovery-session Login Request
 * (RFC 7143 §11.12, SessionType=Discovery, AuthMethod=None,CHAP) and accepts any well-formed
 * Login Response, whatever its status (a target that wants CHAP is still a target).
 */
export function probeIscsi(
  address: string,
  port: number,
  opts: { timeoutMs: number; signal?: AbortSignal; initiatorName?: string },
): Promise<IscsiProbe> {
  return new Promise((resolve) => {
    let settled = false;
    let got = Buffer.alloc(0);
    const sock = net.connect({ host: address, port });
    const done = (r: IscsiProbe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      resolve(r);
    };
    const onAbort = () => done({ iscsi: false, evidence: 'check cancelled' });
    const timer = setTimeout(
      () =>
        done({
          iscsi: false,
          evidence:
            got.length > 0
              ? `sent ${got.length} bytes but no complete iSCSI header within ${opts.timeoutMs} ms: ${preview(got)}`
              : `accepted the connection but sent no iSCSI login response within ${opts.timeoutMs} ms`,
        }),
      opts.timeoutMs,
    );
    if (opts.signal?.aborted) return onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    sock.setNoDelay(true);
    sock.on('connect', () => {
      const isid = Buffer.concat([Buffer.from([0x80]), randomBytes(3), Buffer.from([0, 0])]);
      sock.write(
        buildLoginRequest({
          isid,
          tsih: 0,
          itt: 1,
          cid: 0,
          cmdSN: 1,
          expStatSN: 0,
          csg: Stage.Security,
          nsg: Stage.Operational,
          transit: true,
          keys: [
            ['InitiatorName', opts.initiatorName ?? SCANNER_INITIATOR],
            ['SessionType', 'Discovery'],
            ['AuthMethod', 'None,CHAP'],
          ],
        }),
      );
    });
    sock.on('data', (chunk: Buffer) => {
      // Keep at most one header: the decision needs nothing more, so a flood cannot grow memory.
      got = Buffer.concat([got, chunk]).subarray(0, BHS_LENGTH);
      if (got.length < BHS_LENGTH) return;
      const bhs = parseBhs(got);
      if (bhs.opcode !== Opcode.LoginResponse) {
        return done({ iscsi: false, evidence: `answered with something that is not iSCSI: ${preview(got)}` });
      }
      const head = parseLoginResponseHead(got);
      if (head.versionActive !== 0 || head.versionMax !== 0) {
        return done({ iscsi: false, evidence: `login response with unknown version ${head.versionMax}/${head.versionActive}` });
      }
      const status = `0x${head.statusClass.toString(16).padStart(2, '0')}${head.statusDetail.toString(16).padStart(2, '0')}`;
      done({ iscsi: true, evidence: `iSCSI login response, status ${status}` });
    });
    sock.on('end', () =>
      done({
        iscsi: false,
        evidence: got.length > 0 ? `closed after sending ${preview(got)}` : 'closed the connection without a login response',
      }),
    );
    sock.on('error', (e: NodeJS.ErrnoException) => done({ iscsi: false, evidence: `connection error: ${e.code ?? e.message}` }));
  });
}
