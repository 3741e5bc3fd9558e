/**
 * How the walk fetches what a script chains, as iPXE would: tftp:// and http:// only (the
 * schemes Bootchain's iPXE builds carry), size-capped, never throwing (a failure is a Fetched).
 */
import http from 'node:http';
import { tftpGet } from '../tftp/client';
import type { Fetched } from './script';
import { errText } from './walk';

/** Fetches over HTTP (GET, size-capped). */
function httpGet(url: string, signal?: AbortSignal): Promise<Fetched> {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: 3000, signal }, (res) => {
      if ((res.statusCode ?? 0) >= 400) {
        res.resume();
        return resolve({ url, ok: false, error: `HTTP ${res.statusCode}` });
      }
      const parts: Buffer[] = [];
      let n = 0;
      res.on('data', (d: Buffer) => {
        n += d.length;
        if (n > 64 << 20) req.destroy(new Error('larger than 64 MiB'));
        else parts.push(d);
      });
      res.on('end', () => resolve({ url, ok: true, data: Buffer.concat(parts) }));
      res.on('error', (e) => resolve({ url, ok: false, error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 3 s')));
    req.on('error', (e) => resolve({ url, ok: false, error: e.message }));
  });
}

/** Fetches a tftp:// (port 69 unless the URL names one) or http:// URL. */
export async function fetchUrl(url: string, signal?: AbortSignal): Promise<Fetched> {
  const m = /^tftp:\/\/([^/:]+)(?::(\d+))?\/(.*)$/.exec(url);
  if (m) {
    try {
      const r = await tftpGet(m[1]!, decodeURIComponent(m[3]!), { port: m[2] ? Number(m[2]) : 69, timeoutMs: 800, retries: 2, signal });
      return { url, ok: true, data: r.data };
    } catch (e) {
      return { url, ok: false, error: errText(e) };
    }
  }
  if (/^http:\/\//.test(url)) return httpGet(url, signal);
  return { url, ok: false, error: `Bootchain cannot fetch ${url.split(':')[0]} URLs (tftp and http only)` };
}
