import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loginResponse, logoutResponse, type Request } from '../../../e2e/support/fake-target';
import { LunWriter } from './lun-writer';
import { BHS_LENGTH, decodeTextKeys, encodePdu, pad4 } from './pdu';

// A stand-in target, written here: no real target sends a wrong R2T on purpose. It logs in
// (None auth), answers the commands LunWriter.open sends as a 16 MiB disk would, and then lets
// each test misbehave on the first WRITE. The real-target paths are in lun-writer.int.test.ts.
const INI = 'iqn.2024-01.io.bootchain:hostile-writer';
const TARGET = 'iqn.2026-11.test.hostile:disk';
const BLOCKS = 32768;

interface Cmd {
  opcode: number;
  itt: number;
  cmdSN: number;
  cdb: Buffer;
  bhs: Buffer;
  data: Buffer;
}
type OnWrite = (cmd: Cmd, sock: net.Socket, sn: () => Seq) => void;
interface Seq {
  statSN: number;
  expCmdSN: number;
  maxCmdSN: number;
}

const servers: net.Server[] = [];
const sockets = new Set<net.Socket>();
afterEach(async () => {
  for (const s of sockets) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

function bhsWith(op: number, flags: number, itt: number, seq: Seq): Buffer {
  const b = Buffer.alloc(BHS_LENGTH);
  b[0] = op;
  b[1] = flags;
  b.writeUInt32BE(itt, 16);
  b.writeUInt32BE(0xffffffff, 20);
  b.writeUInt32BE(seq.statSN, 24);
  b.writeUInt32BE(seq.expCmdSN, 28);
  b.writeUInt32BE(seq.maxCmdSN, 32);
  return b;
}
/** SCSI Response (RFC 7143 §11.4) with a status and optional fixed-format sense. */
function scsiResponse(itt: number, seq: Seq, status = 0, senseKey?: number): Buffer {
  const b = bhsWith(0x21, 0x80, itt, seq);
  b[3] = status;
  let data = Buffer.alloc(0);
  if (senseKey !== undefined) {
    const sense = Buffer.alloc(18);
    sense[0] = 0x70;
    sense[2] = senseKey;
    sense[7] = 10;
    data = Buffer.concat([Buffer.from([0, 18]), sense]);
  }
  return encodePdu(b, data);
}
function dataIn(itt: number, seq: Seq, data: Buffer): Buffer {
  const b = bhsWith(0x25, 0x81, itt, seq);
  return encodePdu(b, data);
}
/** R2T (RFC 7143 §11.8). */
function r2t(itt: number, seq: Seq, r2tsn: number, offset: number, length: number): Buffer {
  const b = bhsWith(0x31, 0x80, itt, seq);
  b.writeUInt32BE(0x1000 + r2tsn, 20);
  b.writeUInt32BE(r2tsn, 36);
  b.writeUInt32BE(offset, 40);
  b.writeUInt32BE(length, 44);
  return encodePdu(b);
}

/** The stand-in: a disk for open(), `onWrite` for the first WRITE(16). Records Data-Out and NOP-Out PDUs. */
async function hostile(onWrite: OnWrite, keys: Array<[string, string]> = []): Promise<{ port: number; dataOuts: Cmd[]; nopOuts: Cmd[] }> {
  const dataOuts: Cmd[] = [];
  const nopOuts: Cmd[] = [];
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let statSN = 1;
    let lastCmdSN = 1;
    const sn = (): Seq => ({ statSN: statSN++, expCmdSN: lastCmdSN + 1, maxCmdSN: lastCmdSN + 32 });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= BHS_LENGTH) {
        const len = buf.readUIntBE(5, 3);
        const total = BHS_LENGTH + buf[4]! * 4 + pad4(len);
        if (buf.length < total) break;
        const bhs = Buffer.from(buf.subarray(0, BHS_LENGTH));
        const data = Buffer.from(buf.subarray(BHS_LENGTH, BHS_LENGTH + len));
        buf = buf.subarray(total);
        const cmd: Cmd = { opcode: bhs[0]! & 0x3f, itt: bhs.readUInt32BE(16), cmdSN: bhs.readUInt32BE(24), cdb: bhs.subarray(32, 48), bhs, data };
        if (cmd.opcode === 0x03) {
          const req: Request = { opcode: 3, flags: bhs[1]!, itt: cmd.itt, ttt: 0, keys: decodeTextKeys(data), bhs };
          const op = ((bhs[1]! >> 2) & 3) === 1;
          sock.write(loginResponse(req, op ? [['InitialR2T', 'Yes'], ['ImmediateData', 'No'], ['FirstBurstLength', '65536'], ['MaxBurstLength', '262144'], ['MaxRecvDataSegmentLength', '8192'], ...keys] : [['AuthMethod', 'None']]));
        } else if (cmd.opcode === 0x05) dataOuts.push(cmd);
        else if (cmd.opcode === 0x00) nopOuts.push(cmd);
        else if (cmd.opcode === 0x06) sock.write(logoutResponse({ opcode: 6, flags: 0x80, itt: cmd.itt, ttt: 0, keys: [], bhs }));
        else if (cmd.opcode === 0x01) {
          lastCmdSN = cmd.cmdSN;
          const c = cmd.cdb;
          if (c[0] === 0x00) sock.write(scsiResponse(cmd.itt, sn()));
          else if (c[0] === 0x12 && (c[1]! & 1) === 0) {
            const inq = Buffer.alloc(36);
            inq.write('HOSTILE ', 8, 'latin1');
            sock.write(dataIn(cmd.itt, sn(), inq));
          } else if (c[0] === 0x9e) {
            const rc = Buffer.alloc(32);
            rc.writeBigUInt64BE(BigInt(BLOCKS - 1), 0);
            rc.writeUInt32BE(512, 8);
            sock.write(dataIn(cmd.itt, sn(), rc));
          } else if (c[0] === 0x12) sock.write(scsiResponse(cmd.itt, sn(), 2, 5));
          else if (c[0] === 0x8a) onWrite(cmd, sock, sn);
          else sock.write(scsiResponse(cmd.itt, sn()));
        }
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as net.AddressInfo).port, dataOuts, nopOuts };
}

const openOn = (port: number, signal?: AbortSignal) => LunWriter.open({ host: '127.0.0.1', port, initiatorName: INI, targetName: TARGET, lun: 0, timeoutMs: 1000, signal });
type Coded = { appError?: { code: string; message: string } };

/** Writes 256 KiB at LBA 0 and flushes; returns the error the writer ends with. */
async function writeAndFail(port: number): Promise<{ code: string; message: string } | undefined> {
  const w = await openOn(port);
  try {
    await w.write(0, Buffer.alloc(256 << 10, 0x5a));
    await w.flush();
    return undefined;
  } catch (e) {
    return (e as Coded).appError;
  } finally {
    await w.close();
  }
}

describe('LunWriter against a hostile target (stand-in): clean PROTOCOL_ERRORs, bounded memory', { timeout: 5000 }, () => {
  it('R2T for a task we never started', async () => {
    const t = await hostile((cmd, sock, sn) => sock.write(r2t(cmd.itt + 1000, sn(), 0, 0, 4096)));
    expect(await writeAndFail(t.port)).toMatchObject({ code: 'PROTOCOL_ERROR', message: expect.stringMatching(/R2T for a task we never started \(ITT \d+\)/) });
    expect(t.dataOuts).toHaveLength(0);
  });

  it('R2T for data beyond the command\'s length', async () => {
    const t = await hostile((cmd, sock, sn) => sock.write(r2t(cmd.itt, sn(), 0, 250 << 10, 16 << 10)));
    expect(await writeAndFail(t.port)).toMatchObject({ code: 'PROTOCOL_ERROR', message: expect.stringMatching(/beyond the command's 262144 bytes/) });
    expect(t.dataOuts).toHaveLength(0);
  });

  it('R2T at a wrong buffer offset', async () => {
    const t = await hostile((cmd, sock, sn) => sock.write(r2t(cmd.itt, sn(), 0, 4096, 4096)));
    expect(await writeAndFail(t.port)).toMatchObject({ code: 'PROTOCOL_ERROR', message: expect.stringMatching(/buffer offset 4096 .* where offset 0 was next/) });
  });

  it('R2TSN out of order', async () => {
    const t = await hostile((cmd, sock, sn) => sock.write(r2t(cmd.itt, sn(), 1, 0, 4096)));
    expect(await writeAndFail(t.port)).toMatchObject({ code: 'PROTOCOL_ERROR', message: expect.stringMatching(/R2TSN 1 .* where 0 was next/) });
  });

  it('a huge desired length: refused before anything is allocated by that number', async () => {
    const t = await hostile((cmd, sock, sn) => sock.write(r2t(cmd.itt, sn(), 0, 0, 0xffffffff)));
    global.gc?.();
    const before = process.memoryUsage();
    const e = await writeAndFail(t.port);
    const after = process.memoryUsage();
    expect(e).toMatchObject({ code: 'PROTOCOL_ERROR', message: expect.stringMatching(/asked for 4294967295 bytes in one R2T, outside 1-262144 \(MaxBurstLength\)/) });
    // A writer that allocated (or sent) what the target asked for would grow by 4 GiB.
    expect(after.arrayBuffers + after.heapUsed - (before.arrayBuffers + before.heapUsed)).toBeLessThan(64 << 20);
    expect(t.dataOuts).toHaveLength(0);
  });

  it('a well-behaved sequence: R2Ts in bursts, a NOP-In ping answered, UNIT ATTENTION retried', async () => {
    let writes = 0;
    const t = await hostile((cmd, sock, sn) => {
      if (writes++ === 0) return void sock.write(scsiResponse(cmd.itt, sn(), 2, 6)); // UNIT ATTENTION
      const ping = bhsWith(0x20, 0x80, 0xffffffff, sn());
      ping.writeUInt32BE(0xabcd, 20);
      sock.write(encodePdu(ping));
      // Two R2Ts of 128 KiB; Data-Out PDUs are counted before the status goes back.
      sock.write(r2t(cmd.itt, sn(), 0, 0, 128 << 10));
      sock.write(r2t(cmd.itt, sn(), 1, 128 << 10, 128 << 10));
      const wait = setInterval(() => {
        if (t.dataOuts.filter((d) => d.itt === cmd.itt).length < 32) return;
        clearInterval(wait);
        sock.write(scsiResponse(cmd.itt, sn()));
      }, 5);
    });
    const w = await openOn(t.port);
    try {
      await w.write(0, Buffer.alloc(256 << 10, 0x5a));
      await w.flush();
      expect(w.acknowledgedBytes).toBe(256 << 10);
    } finally {
      await w.close();
    }
    expect(writes).toBe(2);
    // 256 KiB in PDUs of the target's 8 KiB, DataSN restarting at each R2T, F on each burst's last.
    const outs = t.dataOuts;
    expect(outs).toHaveLength(32);
    expect(outs.map((d) => d.bhs.readUInt32BE(36))).toEqual([...Array(16).keys(), ...Array(16).keys()]);
    expect(outs.map((d) => d.bhs.readUInt32BE(40))).toEqual(Array.from({ length: 32 }, (_, i) => i * 8192));
    expect(outs.filter((d) => d.bhs[1]! & 0x80).map((d) => d.bhs.readUInt32BE(36))).toEqual([15, 15]);
    expect(outs.map((d) => d.bhs.readUInt32BE(20))).toEqual([...Array(16).fill(0x1000), ...Array(16).fill(0x1001)]);
    expect(outs.every((d) => d.data.length === 8192 && d.data.every((b) => b === 0x5a))).toBe(true);
    expect(t.nopOuts.map((n) => n.bhs.readUInt32BE(20))).toContain(0xabcd);
  });

  it('cancel while a write waits for the target: CANCELLED saying how far it got', async () => {
    const t = await hostile(() => undefined); // takes the WRITE and never answers
    const ac = new AbortController();
    const w = await openOn(t.port, ac.signal);
    try {
      await w.write(0, Buffer.alloc(64 << 10));
      setTimeout(() => ac.abort(), 50);
      const e = await w.flush().then(() => undefined, (x: Coded) => x.appError);
      expect(e).toMatchObject({ code: 'CANCELLED', message: expect.stringMatching(/0 bytes \(0\.0 MiB\) from the start/) });
    } finally {
      await w.close();
    }
  });
});
