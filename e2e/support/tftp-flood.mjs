// A TFTP request flood for the boot-server limit tests, run inside a lab namespace that holds the
// source addresses: `node tftp-flood.mjs JSON` with
//   { server, port, file, mode, options: [name, value, ...], addresses: [...], perAddress, listenMs }.
// Sends perAddress RRQs from every address (each from its own port, round-robin over the
// addresses), never acknowledges anything, listens for listenMs and prints one JSON line:
//   { sent, byAddress: { ADDR: { started, errors: { TEXT: n }, silent } } }
// where `started` counts the distinct server ports (transfer IDs) that sent OACK or DATA.
import dgram from 'node:dgram';

const o = JSON.parse(process.argv[2]);
const rrq = Buffer.concat([Buffer.from([0, 1]), Buffer.from([o.file, o.mode ?? 'octet', ...(o.options ?? []), ''].join('\0'), 'latin1')]);
const byAddress = Object.fromEntries(o.addresses.map((a) => [a, { started: 0, errors: {}, silent: 0 }]));
const sockets = [];

async function bindAll() {
  for (let i = 0; i < o.perAddress; i++) {
    for (const address of o.addresses) {
      const sock = dgram.createSocket('udp4');
      const seen = { tids: new Set(), answered: false };
      sock.on('message', (m, r) => {
        seen.answered = true;
        const op = m.readUInt16BE(0);
        if (op === 3 || op === 6) {
          if (!seen.tids.has(r.port)) {
            seen.tids.add(r.port);
            byAddress[address].started++;
          }
        } else if (op === 5) {
          const text = m.subarray(4).toString('latin1').replace(/\0.*$/s, '');
          byAddress[address].errors[text] = (byAddress[address].errors[text] ?? 0) + 1;
        }
      });
      sock.on('error', () => undefined);
      await new Promise((r) => sock.bind(0, address, () => r()));
      sockets.push({ sock, address, seen });
    }
  }
}

await bindAll();
// The burst: every RRQ, in batches that let the kernel's send queue drain between them.
let sent = 0;
for (let i = 0; i < sockets.length; i += 100) {
  for (const s of sockets.slice(i, i + 100)) {
    s.sock.send(rrq, o.port, o.server);
    sent++;
  }
  await new Promise((r) => setImmediate(r));
}
await new Promise((r) => setTimeout(r, o.listenMs));
for (const s of sockets) {
  if (!s.seen.answered) byAddress[s.address].silent++;
  s.sock.close();
}
process.stdout.write(`${JSON.stringify({ sent, byAddress })}\n`);
