/**
 * The start of an RFB session over WebSocket, as noVNC makes it (RFB 3.8, RFC 6143): version,
 * security type 2 (VNC authentication: the 16-byte challenge DES-encrypted with the password)
 * and the SecurityResult. Tests use it to check that the VNC endpoint the installer VM reports
 * takes the run's password and refuses another.
 */
import { createCipheriv } from 'node:crypto';

/** What the server said: its version line, the security types it offered, and the login's result. */
export interface RfbLogin {
  version: string;
  securityTypes: number[];
  result: 'ok' | 'failed';
  reason?: string;
}

/** VNC authentication's DES key: the password in 8 bytes, each byte's bits reversed (RFC 6143 §7.2.2, errata 4951). */
function vncDesResponse(password: string, challenge: Buffer): Buffer {
  const key = Buffer.alloc(8);
  Buffer.from(password, 'latin1').copy(key, 0, 0, 8);
  for (let i = 0; i < 8; i++) {
    let b = key[i]!;
    let r = 0;
    for (let j = 0; j < 8; j++) {
      r = (r << 1) | (b & 1);
      b >>= 1;
    }
    key[i] = r;
  }
  // OpenSSL 3 keeps single DES in its legacy provider; triple DES with K|K|K is the same cipher.
  const c = createCipheriv('des-ede3-ecb', Buffer.concat([key, key, key]), null);
  c.setAutoPadding(false);
  return Buffer.concat([c.update(challenge), c.final()]);
}

/** Logs in to the VNC server at a ws:// URL with `password` and closes. */
export function rfbLogin(url: string, password: string, timeoutMs = 10000): Promise<RfbLogin> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, ['binary']);
    ws.binaryType = 'arraybuffer';
    let buf = Buffer.alloc(0);
    const waiting: Array<{ n: number; fn: (b: Buffer) => void }> = [];
    const pump = () => {
      while (waiting.length && buf.length >= waiting[0]!.n) {
        const w = waiting.shift()!;
        const b = buf.subarray(0, w.n);
        buf = buf.subarray(w.n);
        w.fn(b);
      }
    };
    const read = (n: number) => new Promise<Buffer>((fn) => (waiting.push({ n, fn }), pump()));
    const timer = setTimeout(() => {
      ws.close();
      reject(new Error(`RFB login to ${url} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.onerror = () => reject(new Error(`WebSocket to ${url} failed`));
    ws.onmessage = (m) => {
      buf = Buffer.concat([buf, Buffer.from(m.data as ArrayBuffer)]);
      pump();
    };
    ws.onopen = async () => {
      try {
        const version = (await read(12)).toString('latin1');
        ws.send(Buffer.from('RFB 003.008\n', 'latin1'));
        const n = (await read(1))[0]!;
        const securityTypes = [...(await read(n))];
        if (!securityTypes.includes(2)) throw new Error(`the server offers security types ${securityTypes.join(',')}, not VNC authentication`);
        ws.send(Buffer.from([2]));
        ws.send(vncDesResponse(password, await read(16)));
        const ok = (await read(4)).readUInt32BE(0) === 0;
        const reason = ok ? undefined : (await read((await read(4)).readUInt32BE(0))).toString('utf8').replace(/\0+$/, '');
        clearTimeout(timer);
        ws.close();
        resolve({ version, securityTypes, result: ok ? 'ok' : 'failed', ...(reason ? { reason } : {}) });
      } catch (e) {
        clearTimeout(timer);
        ws.close();
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    };
  });
}
