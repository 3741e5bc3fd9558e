// Boot-storm clients for bench/tftp-storm-inproc.ts, run inside the lab's client namespace that
// holds their addresses: `node storm-client.mjs JSON` with
//   { proto: 'tftp'|'http', server, port, file, size, check, addresses: [...], blksize, timeoutMs,
//     retries, rrqRetries, limitMs }.
// Every address fetches `file` at once, as firmware does over TFTP: blksize, tsize, one ACK per
// block (no windowsize: PXE ROMs have none), the last packet sent again after `timeoutMs`, up
// to `retries` times in a row — the request up to `rrqRetries` times, as firmware keeps asking a
// busy server. Every client's bytes are compared with the file `check` afterwards. Prints one
// JSON line: { wallMs, ok, failed, errors, resends, cpuMs }.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import http from 'node:http';

const o = JSON.parse(process.argv[2]);
const want = readFileSync(o.check);
const errors = {};
let resends = 0;
const note = (e) => (errors[e] = (errors[e] ?? 0) + 1);

/** One firmware-like TFTP fetch from `local`; resolves with the bytes or rejects. */
function tftp(local) {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket('udp4');
    const data = Buffer.allocUnsafe(o.size);
    let got = 0;
    let expected = 1;
    let peer = 0;
    let tries = 0;
    let last = Buffer.concat([Buffer.from([0, 1]), Buffer.from(`${o.file}\0octet\0blksize\0${o.blksize}\0tsize\x000\0`, 'latin1')]);
    let lastPort = o.port;
    let blksize = 512;
    let timer;
    const end = (e) => {
      clearTimeout(timer);
      sock.close();
      if (e) reject(e);
      else resolve(data.subarray(0, got));
    };
    const send = () => {
      sock.send(last, lastPort, o.server);
      clearTimeout(timer);
      timer = setTimeout(() => {
        if (++tries > (peer === 0 ? o.rrqRetries : o.retries)) return end(new Error(peer === 0 ? 'no answer to the request' : 'timed out'));
        resends++;
        send();
      }, o.timeoutMs);
    };
    sock.on('error', (e) => end(e));
    sock.on('message', (m, r) => {
      const op = m.readUInt16BE(0);
      if (op === 5) return end(new Error(`error: ${m.subarray(4).toString('latin1').replace(/\0.*$/s, '')}`));
      // Packets from another port of the server are ignored, without an ICMP error, as iPXE
      // does (its socket stays open and unconnected): a server that starts a second transfer
      // for a repeated request learns nothing from the client.
      if (peer === 0) peer = r.port;
      else if (r.port !== peer) return;
      lastPort = peer;
      if (op === 6) {
        if (expected !== 1) return;
        const f = m.subarray(2).toString('latin1').split('\0');
        for (let i = 0; i + 1 < f.length; i += 2) if (f[i] === 'blksize') blksize = Number(f[i + 1]);
        last = Buffer.from([0, 4, 0, 0]);
        tries = 0;
        return send();
      }
      if (op !== 3) return;
      const n = m.readUInt16BE(2);
      if (n !== (expected & 0xffff)) {
        if (n === ((expected - 1) & 0xffff)) sock.send(last, peer, o.server); // our ACK was lost
        return;
      }
      const len = m.length - 4;
      if (got + len > o.size) return end(new Error('more bytes than the file has'));
      m.copy(data, got, 4);
      got += len;
      expected++;
      last = Buffer.from([0, 4, (n >> 8) & 255, n & 255]);
      tries = 0;
      if (len < blksize) {
        sock.send(last, peer, o.server);
        return end();
      }
      send();
    });
    sock.bind(0, local, () => send());
  });
}

/** One HTTP GET from `local`. */
function get(local) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: o.server, port: o.port, path: `/${o.file}`, localAddress: local, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`HTTP ${res.statusCode}`));
      }
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
    });
    req.setTimeout(o.limitMs, () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

const cpu0 = process.cpuUsage();
const t0 = performance.now();
const results = await Promise.all(
  o.addresses.map((a) =>
    (o.proto === 'http' ? get(a) : tftp(a)).then(
      (b) => b,
      (e) => {
        note(e.message);
        return undefined;
      },
    ),
  ),
);
const wallMs = performance.now() - t0;
const cpu = process.cpuUsage(cpu0);
let ok = 0;
for (const b of results) {
  if (!b) continue;
  if (b.equals(want)) ok++;
  else note(`wrong bytes (${b.length} of ${want.length})`);
}
process.stdout.write(`${JSON.stringify({ wallMs, ok, failed: o.addresses.length - ok, errors, resends, cpuMs: (cpu.user + cpu.system) / 1000 })}\n`);
