import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DiscoverInput } from '../../../shared/iscsi';
import { discoveryHandler, fakeTarget, loginResponse, logoutResponse, nopIn, textResponse, type FakeTarget } from '../../../e2e/support/fake-target';
import { discover } from './discovery';
import { discoverJob } from './jobs';
import { BHS_LENGTH, encodeTextKeys } from './pdu';
import { IscsiSession } from './session';

// These peers are fake targets written in the test (e2e/support/fake-target.ts): no real target
// misbehaves on purpose, and tgt cannot do SHA-256 CHAP or LIO's ACL status. The lab's tgtd
// covers the normal paths in iscsi.int.test.ts.
const INI = 'iqn.2024-01.io.bootchain:test';
let peers: FakeTarget[] = [];
afterEach(async () => {
  await Promise.all(peers.map((p) => p.close()));
  peers = [];
});
async function peer(...args: Parameters<typeof fakeTarget>): Promise<FakeTarget> {
  const p = await fakeTarget(...args);
  peers.push(p);
  return p;
}
const login = (port: number, extra: Partial<Parameters<typeof IscsiSession.login>[0]> = {}) =>
  IscsiSession.login({ host: '127.0.0.1', port, initiatorName: INI, sessionType: 'Discovery', timeoutMs: 500, ...extra });

// A hang shows up as the describe-level test timeout (3 s, several times each step's deadline):
// the assertions are on the error, not on speed.
async function expectError(p: Promise<unknown>, code: string, msg: RegExp, _deadlineMs: number): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e as { appError?: { code: string; message: string } },
  );
  expect(err?.appError?.code).toBe(code);
  expect(err?.appError?.message).toMatch(msg);
}

describe('hostile targets end in a clear error within the timeout', { timeout: 3000 }, () => {
  it('truncated PDU, then close', async () => {
    const t = await peer((_req, sock) => {
      sock.write(Buffer.alloc(20, 0x23));
      sock.end();
    });
    await expectError(login(t.port), 'UNREACHABLE', /closed the connection/, 2000);
  });

  it('giant data segment length', async () => {
    const t = await peer((_req, sock) => {
      const bhs = Buffer.alloc(BHS_LENGTH);
      bhs[0] = 0x23;
      bhs.writeUIntBE(0xffffff, 5, 3);
      sock.write(bhs);
    });
    await expectError(login(t.port), 'PROTOCOL_ERROR', /16777215-byte data segment/, 2000);
  });

  it('wrong opcode for a login, and an opcode no target sends', async () => {
    const a = await peer((_req, sock) => {
      const bhs = Buffer.alloc(BHS_LENGTH);
      bhs[0] = 0x25; // Data-In
      sock.write(bhs);
    });
    await expectError(login(a.port), 'PROTOCOL_ERROR', /answered the login with opcode 0x25/, 2000);
    const b = await peer((_req, sock) => sock.write(Buffer.alloc(BHS_LENGTH, 0x15)));
    await expectError(login(b.port), 'PROTOCOL_ERROR', /no iSCSI target sends/, 2000);
  });

  it('never answers', async () => {
    const t = await peer(() => undefined);
    await expectError(login(t.port, { timeoutMs: 300 }), 'TIMEOUT', /did not send the login response within 300 ms/, 2000);
  });

  it('drips bytes slower than the deadline', async () => {
    const t = await peer((req, sock) => {
      const resp = loginResponse(req, [['AuthMethod', 'None']]);
      let i = 0;
      const timer = setInterval(() => {
        if (i >= resp.length || sock.destroyed) return clearInterval(timer);
        sock.write(resp.subarray(i, ++i));
      }, 20);
    });
    await expectError(login(t.port, { timeoutMs: 400 }), 'TIMEOUT', /within 400 ms/, 2000);
  });

  it('a login that never reaches full feature phase', async () => {
    const t = await peer((req, sock) => sock.write(loginResponse(req, [], { transit: false })));
    await expectError(login(t.port), 'PROTOCOL_ERROR', /did not complete the login/, 3000);
  });

  it('a flood after the header stays bounded and fails', async () => {
    const t = await peer((_req, sock) => {
      const bhs = Buffer.alloc(BHS_LENGTH);
      bhs[0] = 0x23;
      bhs.writeUIntBE(60000, 5, 3);
      sock.write(bhs);
      // The announced 60000 bytes are allowed (we declare 65536), but they never end.
      const junk = Buffer.alloc(4096, 0x41);
      const timer = setInterval(() => (sock.destroyed ? clearInterval(timer) : sock.write(junk)), 1);
    });
    await expectError(login(t.port, { timeoutMs: 300 }), 'PROTOCOL_ERROR', /opcode|data segment|login/, 3000);
  });
});

describe('protocol paths only a scripted peer can show', { timeout: 3000 }, () => {
  it('follows one redirect (status 0x0101) and refuses a second', async () => {
    const real = await peer(discoveryHandler([['TargetName', 'iqn.2020-01.x:redirected']]));
    const r1 = await peer((req, sock) => sock.write(loginResponse(req, [['TargetAddress', `127.0.0.1:${real.port},1`]], { status: 0x0101, transit: false })));
    const d = await discover({ host: '127.0.0.1', port: r1.port, initiatorName: INI, timeoutMs: 1000 });
    expect(d.targets.map((t) => t.name)).toEqual(['iqn.2020-01.x:redirected']);
    const r2 = await peer((req, sock) => sock.write(loginResponse(req, [['TargetAddress', `127.0.0.1:${r1.port}`]], { status: 0x0102, transit: false })));
    await expectError(login(r2.port), 'PROTOCOL_ERROR', /redirected twice/, 3000);
  });

  it('assembles a SendTargets reply split over many PDUs (C bit, TTT)', async () => {
    const reply: Array<[string, string]> = [];
    for (let i = 0; i < 100; i++) reply.push(['TargetName', `iqn.2020-01.x:target-${i}`], ['TargetAddress', `10.0.0.${i}:3260,1`], ['TargetAddress', `[fd00::${i}]:3260,2`]);
    const t = await peer(discoveryHandler(reply, 1000));
    const d = await discover({ host: '127.0.0.1', port: t.port, initiatorName: INI, timeoutMs: 1000 });
    expect(d.targets).toHaveLength(100);
    expect(d.targets[99]!.portals).toEqual([
      { address: '10.0.0.99', port: 3260, tpgt: 1 },
      { address: 'fd00::99', port: 3260, tpgt: 2 },
    ]);
    expect(d.replyBytes).toBeGreaterThan(8192);
    expect(d.replyPdus).toBe(Math.ceil(d.replyBytes / 1000));
    // Each continuation carried the target's transfer tag back.
    expect(t.requests.filter((r) => r.opcode === 0x04 && r.ttt === 0x1234).length).toBe(d.replyPdus - 1);
  });

  it('negotiates CRC32C digests and checks them on every PDU after the login', async () => {
    // tgt answers None to a CRC32C offer, so a scripted target shows the digest path.
    const reply = [['TargetName', 'iqn.2020-01.x:digested']] as Array<[string, string]>;
    const t = await peer(
      (req, sock) => {
        const keys = new Map(req.keys);
        if (req.opcode === 0x03) {
          expect(keys.get('HeaderDigest') ?? 'CRC32C').toBe('CRC32C');
          return sock.write(loginResponse(req, keys.has('HeaderDigest') ? [['HeaderDigest', 'CRC32C'], ['DataDigest', 'CRC32C']] : [['AuthMethod', 'None']]));
        }
        if (req.opcode === 0x04) return sock.write(textResponse(req, encodeTextKeys(reply), false, 0, true));
        if (req.opcode === 0x06) return sock.end();
      },
      undefined,
      true,
    );
    const d = await discover({ host: '127.0.0.1', port: t.port, initiatorName: INI, timeoutMs: 1000, digests: 'require' });
    expect(d.targets.map((x) => x.name)).toEqual(['iqn.2020-01.x:digested']);
  });

  it('maps LIO-style ACL refusal (status 0x0202) to the ACL hint', async () => {
    const t = await peer((req, sock) => sock.write(loginResponse(req, [], { status: 0x0202, transit: false })));
    const e = await login(t.port, { sessionType: 'Normal', targetName: 'iqn.2020-01.x:t' }).catch((x: { appError: { code: string; hint: string } }) => x.appError);
    expect(e).toMatchObject({ code: 'PERMISSION_DENIED' });
    expect((e as { hint: string }).hint).toContain(`does not allow initiator IQN ${INI}`);
  });

  it('does mutual CHAP with SHA-256 (CHAP_A 7) and checks the target answer', async () => {
    const secret = 'initiator-secret-1';
    const tsecret = 'target-secret-22';
    const challenge = Buffer.alloc(32, 9);
    const h = (id: number, s: string, c: Buffer) => createHash('sha256').update(Buffer.from([id])).update(s).update(c).digest();
    const make = (targetSecret: string) =>
      peer((req, sock) => {
        const keys = new Map(req.keys);
        if (req.opcode === 0x06) return sock.end();
        if (keys.has('AuthMethod')) return sock.write(loginResponse(req, [['AuthMethod', 'CHAP']], { transit: false }));
        if (keys.has('CHAP_A')) {
          expect(keys.get('CHAP_A')).toBe('7,5');
          return sock.write(loginResponse(req, [['CHAP_A', '7'], ['CHAP_I', '3'], ['CHAP_C', `0x${challenge.toString('hex')}`]], { transit: false }));
        }
        if (keys.has('CHAP_R')) {
          const ok = keys.get('CHAP_R') === `0x${h(3, secret, challenge).toString('hex')}`;
          if (!ok) return sock.write(loginResponse(req, [], { status: 0x0201, transit: false }));
          const c = Buffer.from(keys.get('CHAP_C')!.slice(2), 'hex');
          expect(c.length).toBe(32);
          return sock.write(loginResponse(req, [['CHAP_N', 'tgt'], ['CHAP_R', `0x${h(Number(keys.get('CHAP_I')), targetSecret, c).toString('hex')}`]]));
        }
        sock.write(loginResponse(req, []));
      });
    const good = await make(tsecret);
    const s = await login(good.port, { chap: { username: 'u', secret, mutual: { username: 'tgt', secret: tsecret } } });
    await s.logout();
    const liar = await make('some-other-secret');
    await expectError(login(liar.port, { chap: { username: 'u', secret, mutual: { secret: tsecret } } }), 'AUTH_FAILED', /failed mutual CHAP/, 3000);
    await expectError(login(good.port, { chap: { username: 'u', secret: 'wrong-secret-xx' } }), 'AUTH_FAILED', /Authentication failed/, 3000);
  });

  it('refuses a mutual secret equal to the initiator secret', async () => {
    const t = await peer((req, sock) => {
      const keys = new Map(req.keys);
      if (keys.has('AuthMethod')) return sock.write(loginResponse(req, [['AuthMethod', 'CHAP']], { transit: false }));
      return sock.write(loginResponse(req, [['CHAP_A', '5'], ['CHAP_I', '1'], ['CHAP_C', '0x00112233445566778899aabbccddeeff']], { transit: false }));
    });
    await expectError(login(t.port, { chap: { username: 'u', secret: 'same-secret-123', mutual: { secret: 'same-secret-123' } } }), 'INVALID_INPUT', /must differ/, 3000);
  });

  it('cancel ends a login at once', async () => {
    const t = await peer(() => undefined);
    const ac = new AbortController();
    const p = login(t.port, { timeoutMs: 20000, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expectError(p, 'CANCELLED', /Cancelled/, 1000);
  });
});

describe('a target cannot hold a job open (only a scripted target behaves so: none does on purpose)', { timeout: 3000 }, () => {
  /** Logs in, then answers a text request by pinging with NOP-In every 20 ms and never replying. */
  const pinger = () =>
    peer((req, sock) => {
      if (req.opcode === 0x03) return sock.write(loginResponse(req, [['AuthMethod', 'None']]));
      if (req.opcode !== 0x04) return;
      let n = 0;
      const timer = setInterval(() => (sock.destroyed ? clearInterval(timer) : sock.write(nopIn(0x1000 + ++n))), 20);
    });

  it('NOP-In pings are answered with NOP-Out but do not extend the wait for the SendTargets reply', async () => {
    const t = await pinger();
    await expectError(discover({ host: '127.0.0.1', port: t.port, initiatorName: INI, timeoutMs: 400 }), 'TIMEOUT', /did not send the text response within 400 ms/, 3000);
    const outs = t.requests.filter((r) => r.opcode === 0x00);
    expect(outs.length).toBeGreaterThan(0);
    // Each NOP-Out carries the ping's tag back (RFC 7143 §11.18.3).
    expect(outs.every((r) => r.ttt > 0x1000 && r.ttt <= 0x1000 + outs.length + 1)).toBe(true);
  });

  it('an overall deadline ends a discovery that the target keeps alive within every step\'s timeout', async () => {
    // A SendTargets reply continued (C bit) every 100 ms, never final: each step is in time.
    const t = await peer((req, sock) => {
      if (req.opcode === 0x03) return sock.write(loginResponse(req, [['AuthMethod', 'None']]));
      if (req.opcode === 0x04) setTimeout(() => sock.destroyed || sock.write(textResponse(req, Buffer.from('TargetName=iqn.2020-01.x:slow\0'), true)), 100);
      if (req.opcode === 0x06) sock.write(logoutResponse(req));
    });
    await expectError(discover({ host: '127.0.0.1', port: t.port, initiatorName: INI, timeoutMs: 1000, deadlineMs: 800 }), 'TIMEOUT', /did not finish within 800 ms/, 3000);
  });

  it('the discover job takes its overall deadline from the input', async () => {
    const t = await pinger();
    const input = DiscoverInput.parse({ portals: [{ address: '127.0.0.1', port: t.port }], initiatorName: INI, timeoutMs: 2000, deadlineMs: 500 });
    const ctx = { signal: new AbortController().signal, progress: () => undefined, log: () => undefined, item: () => undefined };
    await expectError(discoverJob(input, ctx), 'TIMEOUT', /within 500 ms/, 3000);
  });
});
