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
/** What the stand-in does with a WRITE(16) or READ(16). */
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
function scsiResponse(itt: number, seq: Seq, status = 0, senseKey?: number, asc = 0): Buffer {
  const b = bhsWith(0x21, 0x80, itt, seq);
  b[3] = status;
  let data = Buffer.alloc(0);
  if (senseKey !== undefined) {
    const sense = Buffer.alloc(18);
    sense[0] = 0x70;
    sense[2] = senseKey;
    sense[7] = 10;
    sense[12] = asc;
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
async function hostile(
  onWrite: OnWrite,
  keys: Array<[string, string]> = [],
  /** Commands the target takes beyond the last one it answered (MaxCmdSN = answered + window). */
  window = 32,
): Promise<{ port: number; dataOuts: Cmd[]; nopOuts: Cmd[]; commands: Array<Cmd & { maxCmdSN: number }>; answered(cmdSN: number): void; ping(ttt: number): void }> {
  const dataOuts: Cmd[] = [];
  const nopOuts: Cmd[] = [];
  const commands: Array<Cmd & { maxCmdSN: number }> = [];
  let doneCmdSN = 0;
  let advertised = window;
  let ping = (_ttt: number) => undefined as void;
  const server = net.createServer((sock) => {
    sockets.add(sock);
    ping = (ttt) => {
      const b = bhsWith(0x20, 0x80, 0xffffffff, { statSN: 0, expCmdSN: 0, maxCmdSN: 0 });
      b.writeUInt32BE(ttt, 20);
      b.writeUInt32BE(advertised, 32);
      sock.write(encodePdu(b));
    };
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = Buffer.alloc(0);
    let statSN = 1;
    let lastCmdSN = 1;
    const sn = (): Seq => {
      advertised = Math.max(advertised, doneCmdSN + window);
      return { statSN: statSN++, expCmdSN: lastCmdSN + 1, maxCmdSN: advertised };
    };
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
          const resp = loginResponse(req, op ? [['InitialR2T', 'Yes'], ['ImmediateData', 'No'], ['FirstBurstLength', '65536'], ['MaxBurstLength', '262144'], ['MaxRecvDataSegmentLength', '8192'], ...keys] : [['AuthMethod', 'None']]);
          resp.writeUInt32BE(advertised, 32); // MaxCmdSN: the first `window` commands (CmdSN 1 up)
          sock.write(resp);
        } else if (cmd.opcode === 0x05) dataOuts.push(cmd);
        else if (cmd.opcode === 0x00) nopOuts.push(cmd);
        else if (cmd.opcode === 0x06) sock.write(logoutResponse({ opcode: 6, flags: 0x80, itt: cmd.itt, ttt: 0, keys: [], bhs }));
        else if (cmd.opcode === 0x01) {
          lastCmdSN = cmd.cmdSN;
          commands.push({ ...cmd, maxCmdSN: advertised });
          const c = cmd.cdb;
          // Everything but writes is answered at once; onWrite answers through answered().
          if (c[0] !== 0x8a) doneCmdSN = Math.max(doneCmdSN, cmd.cmdSN);
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
          else if (c[0] === 0x8a || c[0] === 0x88) onWrite(cmd, sock, sn); // WRITE(16), READ(16)
          else sock.write(scsiResponse(cmd.itt, sn()));
        }
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { port: (server.address() as net.AddressInfo).port, dataOuts, nopOuts, commands, answered: (c) => void (doneCmdSN = Math.max(doneCmdSN, c)), ping: (ttt) => ping(ttt) };
}

const openOn = (port: number, signal?: AbortSignal, queueDepth?: number) =>
  LunWriter.open({ host: '127.0.0.1', port, initiatorName: INI, targetName: TARGET, lun: 0, timeoutMs: 1000, signal, ...(queueDepth ? { negotiate: { queueDepth } } : {}) });
/** Keys under which a 64 KiB write goes entirely as immediate + unsolicited data (no R2T). */
const UNSOLICITED: Array<[string, string]> = [
  ['ImmediateData', 'Yes'],
  ['InitialR2T', 'No'],
];
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

  for (const [window, depth, most] of [
    [4, 8, 4],
    [32, 2, 2],
  ] as const) {
    it(`several writes in flight: CmdSN within the target's window (${window}) and our queue depth (${depth})`, async () => {
      let held: Array<{ cmd: Cmd; sock: net.Socket; sn: () => Seq }> = [];
      let maxOutstanding = 0;
      const release = () => {
        const now = held;
        held = [];
        for (const h of now) {
          t.answered(h.cmd.cmdSN);
          h.sock.write(scsiResponse(h.cmd.itt, h.sn()));
        }
      };
      // Holds write statuses until `most` are outstanding (or 20 ms pass), then answers them all.
      const t = await hostile(
        (cmd, sock, sn) => {
          held.push({ cmd, sock, sn });
          maxOutstanding = Math.max(maxOutstanding, held.length);
          if (held.length >= most) release();
          else setTimeout(release, 20);
        },
        UNSOLICITED,
        window,
      );
      const w = await openOn(t.port, undefined, depth);
      try {
        for (let i = 0; i < 16; i++) await w.write(i * 128, Buffer.alloc(64 << 10, i));
        await w.flush();
        expect(w.acknowledgedBytes).toBe(16 << 16);
      } finally {
        await w.close();
      }
      expect(maxOutstanding).toBe(most);
      for (const c of t.commands) expect(c.cmdSN).toBeLessThanOrEqual(c.maxCmdSN);
      // Each 64 KiB went as immediate data (8 KiB, the target's MaxRecv) plus unsolicited Data-Out.
      expect(t.dataOuts).toHaveLength(16 * 7);
      expect(t.dataOuts.every((d) => d.bhs.readUInt32BE(20) === 0xffffffff)).toBe(true);
    });
  }

  it('WRITE(10) where the target refuses WRITE(16) (ILLEGAL REQUEST, invalid operation code)', async () => {
    const t = await hostile((cmd, sock, sn) => {
      t.answered(cmd.cmdSN);
      sock.write(scsiResponse(cmd.itt, sn(), 2, 5, 0x20));
    }, UNSOLICITED);
    const w = await openOn(t.port);
    try {
      await w.write(2048, Buffer.alloc(64 << 10, 1));
      await w.write(4096, Buffer.alloc(64 << 10, 2));
      await w.flush();
    } finally {
      await w.close();
    }
    const writes = t.commands.filter((c) => c.cdb[0] === 0x8a || c.cdb[0] === 0x2a);
    // The second write may already be in flight as WRITE(16) when the refusal comes: it is sent
    // again as WRITE(10); after the first WRITE(10), no WRITE(16) goes out.
    const first10 = writes.findIndex((c) => c.cdb[0] === 0x2a);
    expect(writes.slice(first10).every((c) => c.cdb[0] === 0x2a)).toBe(true);
    expect(writes.filter((c) => c.cdb[0] === 0x2a).map((c) => [c.cdb.readUInt32BE(2), c.cdb.readUInt16BE(7)])).toEqual([
      [2048, 128],
      [4096, 128],
    ]);
  });

  it('a command window that never opens ends in a clear error, not a hang', async () => {
    const t = await hostile(() => undefined, [], 0); // MaxCmdSN stays below our first CmdSN
    const e = await openOn(t.port).then(
      () => undefined,
      (x: Coded) => x.appError,
    );
    expect(e).toMatchObject({ code: 'UNREACHABLE', message: expect.stringMatching(/did not send the PDU opening its command window \(MaxCmdSN 0, our next CmdSN 1\)/) });
    expect(t.commands).toHaveLength(0);
  });

  it('an idle session answers NOP-In pings (the caller may be busy reading its source)', async () => {
    const t = await hostile((cmd, sock, sn) => {
      t.answered(cmd.cmdSN);
      sock.write(scsiResponse(cmd.itt, sn()));
    }, UNSOLICITED);
    const w = await openOn(t.port);
    try {
      t.ping(0x7777);
      for (let i = 0; i < 100 && t.nopOuts.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(t.nopOuts.map((n) => n.bhs.readUInt32BE(20))).toEqual([0x7777]);
      // And the session still writes afterwards (the idle wait gave way to the command).
      await w.write(0, Buffer.alloc(64 << 10, 3));
      await w.flush();
      expect(w.acknowledgedBytes).toBe(64 << 10);
    } finally {
      await w.close();
    }
  });

  it('Data-In beyond what a read asked for, or out of order: PROTOCOL_ERROR, nothing copied past the buffer', async () => {
    for (const [offset, len, msg] of [
      [8192, 4096, /Data-In for bytes 8192-12288 of READ\(16\) of LBA 0 \(expected offset 0 of 1024\)/],
      [0, 4096, /Data-In for bytes 0-4096 of READ\(16\) of LBA 0 \(expected offset 0 of 1024\)/],
    ] as const) {
      const t = await hostile((cmd, sock, sn) => {
        const b = bhsWith(0x25, 0x81, cmd.itt, sn());
        b.writeUInt32BE(offset, 40);
        sock.write(encodePdu(b, Buffer.alloc(len, 0xee)));
      });
      const w = await openOn(t.port);
      try {
        const e = await w.read(0, 2).then(
          () => undefined,
          (x: Coded) => x.appError,
        );
        expect(e).toMatchObject({ code: 'PROTOCOL_ERROR', message: expect.stringMatching(msg) });
      } finally {
        await w.close();
      }
    }
  });
});
