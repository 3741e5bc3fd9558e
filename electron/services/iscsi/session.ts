/**
 * An iSCSI session over one connection (RFC 7143): login through the security and operational
 * stages to full feature phase (CHAP one-way or mutual, digests, one redirect followed), then
 * text requests with continuation, SCSI reads, and logout.
 */
import { randomBytes } from 'node:crypto';
import { appError, BootchainError, fail } from '../../../shared/errors';
import { chapResponse, newChallenge, parseBinary, responseMatches, toHexValue } from './chap';
import { IscsiConnection } from './connection';
import {
  buildLoginRequest,
  buildLogoutRequest,
  buildNopOut,
  buildScsiRead,
  buildTextRequest,
  decodeTextKeys,
  DEFAULT_MAX_RECV,
  flagsOf,
  ittOf,
  Opcode,
  opcodeOf,
  parseLoginResponseHead,
  RESERVED_TAG,
  Stage,
  type Digests,
  type Pdu,
} from './pdu';
import { loginStatusError, parseSense, type LoginContext, type Sense } from './status';

/** CHAP credentials; `mutual` also authenticates the target to us. */
export interface ChapCredentials {
  username: string;
  secret: string;
  mutual?: { username?: string | undefined; secret: string } | undefined;
}

/** How to log in. */
export interface LoginOptions {
  host: string;
  port: number;
  initiatorName: string;
  sessionType: 'Discovery' | 'Normal';
  targetName?: string | undefined;
  chap?: ChapCredentials | undefined;
  /** CRC32C header and data digests: never, if the target agrees, or required. */
  digests?: 'none' | 'prefer' | 'require';
  /** Deadline of each step (connect, each response), ms. */
  timeoutMs?: number;
  /** Overall deadline of the whole job (discover, probe: connect to logout), ms; see withDeadline. */
  deadlineMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** What we declare as MaxRecvDataSegmentLength (and the reader's cap). */
  maxRecvDataSegmentLength?: number;
  /** Protocol log lines; never carries a secret. */
  log?: (line: string) => void;
  /** CHAP_A values to offer, preferred first (default 7 = SHA-256, then 5 = MD5). */
  chapAlgorithms?: number[];
  /** Data-transfer keys we offer in a Normal session (RFC 7143 §13.10-13.14); see OperationalOffer. */
  operational?: OperationalOffer | undefined;
}

/**
 * What a Normal session offers for writes. The defaults (InitialR2T=Yes, ImmediateData=No,
 * FirstBurst 64 KiB, MaxBurst 256 KiB) are what probe and discovery always sent; the target's
 * answer is the result (OR for InitialR2T, AND for ImmediateData, min for the lengths).
 */
export interface OperationalOffer {
  initialR2T?: boolean;
  immediateData?: boolean;
  firstBurstLength?: number;
  maxBurstLength?: number;
}

/** Result of a SCSI command. */
export interface ScsiResult {
  status: number;
  data: Buffer;
  sense?: Sense | undefined;
  residual: number;
}

/** Keys the target only declares; we never answer them. */
const DECLARATIVE = new Set(['MaxRecvDataSegmentLength', 'TargetAlias', 'TargetPortalGroupTag', 'TargetAddress', 'TargetName']);
/** Most login round trips we accept (a target that never finishes is an error, not a hang). */
const MAX_LOGIN_ROUNDS = 12;
/** Largest text reply we assemble across continuations. */
const MAX_TEXT_REPLY = 1 << 20;

/** Keys we send in the operational stage of a normal session (RFC 7143 §13). */
function operationalKeys(o: LoginOptions, maxRecv: number): Array<[string, string]> {
  const dg = o.digests === 'require' ? 'CRC32C' : o.digests === 'prefer' ? 'CRC32C,None' : 'None';
  const keys: Array<[string, string]> = [
    ['HeaderDigest', dg],
    ['DataDigest', dg],
    ['MaxRecvDataSegmentLength', String(maxRecv)],
    ['DefaultTime2Wait', '0'],
    ['DefaultTime2Retain', '0'],
  ];
  if (o.sessionType === 'Normal') {
    const op = o.operational ?? {};
    keys.push(
      ['InitialR2T', op.initialR2T === false ? 'No' : 'Yes'],
      ['ImmediateData', op.immediateData ? 'Yes' : 'No'],
      ['MaxBurstLength', String(op.maxBurstLength ?? 262144)],
      ['FirstBurstLength', String(op.firstBurstLength ?? 65536)],
      ['MaxOutstandingR2T', '1'],
      ['MaxConnections', '1'],
      ['DataPDUInOrder', 'Yes'],
      ['DataSequenceInOrder', 'Yes'],
      ['ErrorRecoveryLevel', '0'],
    );
  }
  return keys;
}

/** Parses `host[:port][,tpgt]` with IPv6 in brackets (RFC 7143 §13.8). */
export function parseTargetAddress(v: string): { address: string; port: number; tpgt?: number } | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:,[\]\s]+))(?::(\d{1,5}))?(?:,(\d{1,5}))?$/.exec(v);
  if (!m) return undefined;
  const port = m[3] ? Number(m[3]) : 3260;
  if (port < 1 || port > 65535) return undefined;
  const out: { address: string; port: number; tpgt?: number } = { address: (m[1] ?? m[2])!, port };
  if (m[4]) out.tpgt = Number(m[4]);
  return out;
}

/** One logged-in iSCSI session. */
export class IscsiSession {
  private itt = 1;
  private cmdSN = 1;
  private expStatSN = 0;
  /** The target's MaxRecvDataSegmentLength (default 8192, RFC 7143 §13.12). */
  targetMaxRecv = 8192;
  digests: Digests = { header: false, data: false };
  /** Keys the target answered in the login, last value wins. */
  readonly negotiated = new Map<string, string>();
  /** The target's portal group tag, when it told it. */
  tpgt: number | undefined;
  /** The command window the last login response opened (RFC 7143 §4.2.2.1). */
  expCmdSN = 1;
  maxCmdSN = 1;

  private constructor(
    readonly conn: IscsiConnection,
    readonly opts: LoginOptions,
    readonly peer: string,
  ) {}

  private get timeout(): number {
    return this.opts.timeoutMs ?? 10000;
  }

  private nextItt(): number {
    this.itt = (this.itt + 1) >>> 0;
    if (this.itt === RESERVED_TAG) this.itt = 1;
    return this.itt;
  }

  /**
   * Logs in (following one redirect) and returns the session in full feature phase. A target
   * that picks SHA-256 CHAP and then cannot check the answer (tgt 1.0.85 does this: it takes
   * CHAP_A=7 but only decodes 20-byte responses) gets one more try with MD5 only.
   */
  static async login(o: LoginOptions): Promise<IscsiSession> {
    try {
      return await IscsiSession.loginRedirect(o);
    } catch (e) {
      if (e instanceof ChapAlgorithmRefused && (o.chapAlgorithms ?? [7, 5]).includes(5)) {
        o.log?.(`target chose CHAP_A=${e.alg} but refused the response: retrying with CHAP_A=5 (MD5)`);
        return IscsiSession.loginRedirect({ ...o, chapAlgorithms: [5] });
      }
      throw e;
    }
  }

  private static async loginRedirect(o: LoginOptions): Promise<IscsiSession> {
    try {
      return await IscsiSession.loginOnce(o);
    } catch (e) {
      if (e instanceof Redirect) {
        o.log?.(`redirected to ${e.address}:${e.port}`);
        try {
          return await IscsiSession.loginOnce({ ...o, host: e.address, port: e.port });
        } catch (e2) {
          if (e2 instanceof Redirect) fail('PROTOCOL_ERROR', `${o.host} redirected twice (to ${e2.address}:${e2.port})`, { hint: 'Check the portal settings on the NAS: Bootchain follows one redirect.' });
          throw e2;
        }
      }
      throw e;
    }
  }

  private static async loginOnce(o: LoginOptions): Promise<IscsiSession> {
    const maxRecv = o.maxRecvDataSegmentLength ?? DEFAULT_MAX_RECV;
    const conn = await IscsiConnection.open({ host: o.host, port: o.port, timeoutMs: o.timeoutMs ?? 10000, signal: o.signal, maxRecvDataSegmentLength: maxRecv });
    const s = new IscsiSession(conn, o, conn.peer);
    try {
      await s.runLogin(maxRecv);
      return s;
    } catch (e) {
      conn.close();
      throw e;
    }
  }

  private async runLogin(maxRecv: number): Promise<void> {
    const o = this.opts;
    const ctx: LoginContext = { peer: this.peer, initiatorName: o.initiatorName, targetName: o.targetName, sessionType: o.sessionType, usedChap: !!o.chap };
    const isid = Buffer.concat([Buffer.from([0x80]), randomBytes(3), Buffer.from([0, 0])]);
    const itt = this.nextItt();
    let stage: number = Stage.Security;
    type ChapPhase = 'method' | 'challenge' | 'verify' | 'done';
    let chapPhase: ChapPhase = o.chap ? 'method' : 'done';
    let mutualChallenge: { id: number; challenge: Buffer; alg: number } | undefined;
    let chosenAlg = 0;
    const offer = (o.chapAlgorithms ?? [7, 5]).join(',');
    let opSent = false;
    const send = (csg: number, nsg: number, transit: boolean, keys: Array<[string, string]>) => {
      o.log?.(`-> login CSG=${csg}${transit ? ` NSG=${nsg} T` : ''} ${keys.map(([k, v]) => (k.startsWith('CHAP_R') || k === 'CHAP_C' ? `${k}=…` : `${k}=${v}`)).join(' ')}`);
      this.conn.send(buildLoginRequest({ isid, tsih: 0, itt, cid: 0, cmdSN: this.cmdSN, expStatSN: this.expStatSN, csg, nsg, transit, keys }));
    };

    const first: Array<[string, string]> = [
      ['InitiatorName', o.initiatorName],
      ['SessionType', o.sessionType],
    ];
    if (o.sessionType === 'Normal') {
      if (!o.targetName) fail('INVALID_INPUT', 'A normal session needs a target name');
      first.push(['TargetName', o.targetName]);
    }
    if (o.chap) send(Stage.Security, Stage.Operational, false, [...first, ['AuthMethod', 'CHAP,None']]);
    else send(Stage.Security, Stage.Operational, true, [...first, ['AuthMethod', 'None']]);

    let pendingAnswers: Array<[string, string]> = [];
    let partial = Buffer.alloc(0);
    for (let round = 0; round < MAX_LOGIN_ROUNDS * 4; round++) {
      const pdu = await this.conn.receive(this.timeout, 'login response', o.signal);
      if (opcodeOf(pdu.bhs) === Opcode.Reject) fail('PROTOCOL_ERROR', `${this.peer} rejected our login request`, { detail: `reason 0x${pdu.bhs[2]!.toString(16)}` });
      if (opcodeOf(pdu.bhs) !== Opcode.LoginResponse) fail('PROTOCOL_ERROR', `${this.peer} answered the login with opcode 0x${opcodeOf(pdu.bhs).toString(16)}`);
      const h = parseLoginResponseHead(pdu.bhs);
      if (h.versionActive !== 0) fail('PROTOCOL_ERROR', `${this.peer} chose iSCSI version ${h.versionActive}, which Bootchain does not speak`);
      if (h.itt !== itt) fail('PROTOCOL_ERROR', `${this.peer} answered a login we did not send (ITT ${h.itt})`);
      this.expStatSN = (h.statSN + 1) >>> 0;
      this.expCmdSN = h.expCmdSN;
      this.maxCmdSN = h.maxCmdSN;
      if (h.statusClass === 1) {
        const to = decodeTextKeys(pdu.data).find(([k]) => k === 'TargetAddress');
        const addr = to ? parseTargetAddress(to[1]) : undefined;
        if (!addr) fail('PROTOCOL_ERROR', `${this.peer} redirected the login without a usable TargetAddress`);
        this.conn.close();
        throw new Redirect(addr.address, addr.port);
      }
      if (h.statusClass === 2 && h.statusDetail === 0 && chapPhase === 'verify' && chosenAlg !== 5) throw new ChapAlgorithmRefused(chosenAlg);
      if (h.statusClass !== 0 || h.statusDetail !== 0) throw new BootchainError(loginStatusError(h.statusClass, h.statusDetail, ctx));
      // A response split over several PDUs (C bit): ask for the rest with an empty request.
      partial = Buffer.concat([partial, pdu.data]);
      if (partial.length > MAX_TEXT_REPLY) fail('PROTOCOL_ERROR', `${this.peer} sent an oversized login response`);
      if (h.cont) {
        send(stage, h.nsg, false, []);
        continue;
      }
      const keys = decodeTextKeys(partial);
      partial = Buffer.alloc(0);
      const got = new Map(keys);
      for (const [k, v] of keys) this.negotiated.set(k, v);
      o.log?.(`<- login CSG=${h.csg}${h.transit ? ` NSG=${h.nsg} T` : ''} ${keys.map(([k, v]) => (k === 'CHAP_C' || k === 'CHAP_R' ? `${k}=…` : `${k}=${v}`)).join(' ')}`);
      if (got.get('AuthMethod') === 'Reject' || got.get('AuthMethod') === 'NotUnderstood') {
        fail('AUTH_FAILED', `${this.peer} refused our authentication method`, {
          hint: o.chap ? 'The target does not accept CHAP here: check its authentication setting on the NAS.' : 'The target requires CHAP: enter the CHAP user name and secret set on the NAS.',
        });
      }
      // Keys the target proposed that need an answer from us (echo its value).
      pendingAnswers = keys.filter(([k]) => !DECLARATIVE.has(k) && !k.startsWith('CHAP_') && k !== 'AuthMethod' && !operationalKeys(o, maxRecv).some(([ok]) => ok === k));

      if (stage === Stage.Security && chapPhase !== 'done') {
        const chap = o.chap!;
        if (chapPhase === 'method') {
          const m = got.get('AuthMethod');
          if (m === 'CHAP') {
            chapPhase = 'challenge';
            send(Stage.Security, Stage.Operational, false, [['CHAP_A', offer]]);
            continue;
          }
          if (m === 'None' || h.transit) {
            if (chap.mutual) fail('AUTH_FAILED', `${this.peer} does not use CHAP, so it cannot prove itself for mutual CHAP`, { hint: 'Turn on CHAP for this target on the NAS, or clear the mutual CHAP fields.' });
            o.log?.('target chose AuthMethod=None although CHAP credentials were given');
            chapPhase = 'done';
            if (!h.transit) {
              send(Stage.Security, Stage.Operational, true, []);
              continue;
            }
          } else fail('PROTOCOL_ERROR', `${this.peer} chose an unknown AuthMethod ${m ?? '(none)'}`);
        } else if (chapPhase === 'challenge') {
          const alg = Number(got.get('CHAP_A'));
          const id = Number(got.get('CHAP_I'));
          const c = got.get('CHAP_C');
          if (!Number.isInteger(alg) || !Number.isInteger(id) || id < 0 || id > 255 || !c) fail('PROTOCOL_ERROR', `${this.peer} sent an incomplete CHAP challenge`);
          if (!offer.split(',').includes(String(alg))) fail('PROTOCOL_ERROR', `${this.peer} chose CHAP_A=${alg}, which we did not offer (${offer})`);
          chosenAlg = alg;
          const challenge = parseBinary(c, 'CHAP_C');
          const reply: Array<[string, string]> = [
            ['CHAP_N', chap.username],
            ['CHAP_R', toHexValue(chapResponse(alg, id, chap.secret, challenge))],
          ];
          if (chap.mutual) {
            if (chap.mutual.secret === chap.secret) fail('INVALID_INPUT', 'The mutual CHAP secret must differ from the initiator secret (RFC 7143 §12.1.3)', { field: 'chap.mutual.secret' });
            const mc = newChallenge(alg);
            mutualChallenge = { ...mc, alg };
            reply.push(['CHAP_I', String(mc.id)], ['CHAP_C', toHexValue(mc.challenge)]);
          }
          chapPhase = 'verify';
          send(Stage.Security, Stage.Operational, true, reply);
          continue;
        } else if (chapPhase === 'verify') {
          if (mutualChallenge) {
            const r = got.get('CHAP_R');
            const n = got.get('CHAP_N');
            if (!r) fail('AUTH_FAILED', `${this.peer} did not answer our mutual CHAP challenge`, { hint: 'Set the mutual (target) CHAP secret on the NAS, or clear the mutual CHAP fields.' });
            const want = chapResponse(mutualChallenge.alg, mutualChallenge.id, chap.mutual!.secret, mutualChallenge.challenge);
            const userOk = chap.mutual!.username === undefined || chap.mutual!.username === '' || chap.mutual!.username === n;
            if (!userOk || !responseMatches(want, parseBinary(r, 'CHAP_R'))) {
              fail('AUTH_FAILED', `${this.peer} failed mutual CHAP: it does not know the target secret we expect`, { hint: 'The mutual (target) CHAP user or secret differs from the one set on the NAS.' });
            }
          }
          chapPhase = 'done';
          if (!h.transit) {
            send(Stage.Security, Stage.Operational, true, pendingAnswers);
            continue;
          }
        }
      }
      if (h.transit) stage = h.nsg;
      if (stage === Stage.FullFeature) break;
      if (stage === Stage.Security) {
        send(Stage.Security, Stage.Operational, true, pendingAnswers);
        continue;
      }
      // Operational stage: offer our keys once, then answer until the target moves to full feature.
      if (!opSent) {
        opSent = true;
        send(Stage.Operational, Stage.FullFeature, true, [...operationalKeys(o, maxRecv), ...pendingAnswers]);
      } else send(Stage.Operational, Stage.FullFeature, true, pendingAnswers);
    }
    if (stage !== Stage.FullFeature) fail('PROTOCOL_ERROR', `${this.peer} did not complete the login in ${MAX_LOGIN_ROUNDS} rounds`);
    const tmr = Number(this.negotiated.get('MaxRecvDataSegmentLength'));
    if (Number.isInteger(tmr) && tmr >= 512) this.targetMaxRecv = tmr;
    const tpgt = Number(this.negotiated.get('TargetPortalGroupTag'));
    if (Number.isInteger(tpgt)) this.tpgt = tpgt;
    const hd = this.negotiated.get('HeaderDigest') === 'CRC32C';
    const dd = this.negotiated.get('DataDigest') === 'CRC32C';
    if (o.digests === 'require' && (!hd || !dd)) fail('PROTOCOL_ERROR', `${this.peer} refused CRC32C digests`, { hint: 'Allow header and data digests on the NAS, or set digests to "prefer".' });
    // Digests start with the first PDU after the login phase (RFC 7143 §13.1).
    this.digests = { header: hd, data: dd };
    this.conn.reader.digests = this.digests;
    this.conn.sendDigests = this.digests;
  }

  /**
   * Answers NOP-In pings and surfaces Rejects and async logout requests while waiting; the wait
   * has one deadline, so pings (answered, RFC 7143 §11.19) cannot extend it.
   */
  private async receiveFor(itt: number, what: string): Promise<Pdu> {
    const deadline = Date.now() + this.timeout;
    for (;;) {
      const pdu = await this.conn.receive(this.timeout, what, this.opts.signal, deadline);
      const op = opcodeOf(pdu.bhs);
      if (op === Opcode.NopIn) {
        const ttt = pdu.bhs.readUInt32BE(20);
        if (ttt !== RESERVED_TAG) this.conn.send(buildNopOut({ itt: RESERVED_TAG, cmdSN: this.cmdSN, expStatSN: this.expStatSN }, ttt, pdu.bhs.subarray(8, 16), this.digests));
        continue;
      }
      if (op === Opcode.AsyncMessage) {
        const event = pdu.bhs[36];
        if (event === 1 || event === 2 || event === 3) fail('UNREACHABLE', `${this.peer} asked to end the session (async event ${event})`, { retryable: true });
        continue;
      }
      if (op === Opcode.Reject) fail('PROTOCOL_ERROR', `${this.peer} rejected our ${what.replace(/ response$/, '')} request`, { detail: `reason 0x${pdu.bhs[2]!.toString(16)}` });
      if (ittOf(pdu.bhs) !== itt) fail('PROTOCOL_ERROR', `${this.peer} sent a ${what} for a task we did not start`);
      return pdu;
    }
  }

  /** A text request with continuation (C bit / Target Transfer Tag, RFC 7143 §11.10). */
  async text(keys: Array<[string, string]>): Promise<{ keys: Array<[string, string]>; pdus: number; bytes: number }> {
    const itt = this.nextItt();
    let ttt = RESERVED_TAG;
    let acc = Buffer.alloc(0);
    let sendKeys = keys;
    for (let i = 0; i < 1024; i++) {
      this.conn.send(buildTextRequest({ itt, cmdSN: this.cmdSN, expStatSN: this.expStatSN }, sendKeys, ttt, this.digests));
      this.cmdSN = (this.cmdSN + 1) >>> 0;
      const pdu = await this.receiveFor(itt, 'text response');
      if (opcodeOf(pdu.bhs) !== Opcode.TextResponse) fail('PROTOCOL_ERROR', `${this.peer} answered a text request with opcode 0x${opcodeOf(pdu.bhs).toString(16)}`);
      this.expStatSN = (pdu.bhs.readUInt32BE(24) + 1) >>> 0;
      acc = Buffer.concat([acc, pdu.data]);
      if (acc.length > MAX_TEXT_REPLY) fail('PROTOCOL_ERROR', `${this.peer} sent more than ${MAX_TEXT_REPLY} bytes of text`);
      const flags = flagsOf(pdu.bhs);
      const cont = (flags & 0x40) !== 0;
      const final = (flags & 0x80) !== 0;
      if (final && !cont) return { keys: decodeTextKeys(acc), pdus: i + 1, bytes: acc.length };
      ttt = pdu.bhs.readUInt32BE(20);
      if (ttt === RESERVED_TAG) fail('PROTOCOL_ERROR', `${this.peer} continued a text reply without a transfer tag`);
      sendKeys = [];
    }
    return fail('PROTOCOL_ERROR', `${this.peer} never finished its text reply`);
  }

  /** One SCSI read command; collects Data-In into at most `allocLen` bytes. */
  async scsiRead(lun: Buffer, cdb: Buffer, allocLen: number): Promise<ScsiResult> {
    const itt = this.nextItt();
    this.conn.send(buildScsiRead({ itt, cmdSN: this.cmdSN, expStatSN: this.expStatSN }, lun, cdb, allocLen, this.digests));
    this.cmdSN = (this.cmdSN + 1) >>> 0;
    const data = Buffer.alloc(allocLen);
    let got = 0;
    for (;;) {
      const pdu = await this.receiveFor(itt, 'SCSI response');
      const op = opcodeOf(pdu.bhs);
      if (op === Opcode.DataIn) {
        const off = pdu.bhs.readUInt32BE(40);
        if (off + pdu.data.length > allocLen) fail('PROTOCOL_ERROR', `${this.peer} sent more data than we asked for`);
        pdu.data.copy(data, off);
        got = Math.max(got, off + pdu.data.length);
        const flags = flagsOf(pdu.bhs);
        if (flags & 0x01) {
          this.expStatSN = (pdu.bhs.readUInt32BE(24) + 1) >>> 0;
          return { status: pdu.bhs[3]!, data: data.subarray(0, got), residual: pdu.bhs.readUInt32BE(44) };
        }
        continue;
      }
      if (op === Opcode.ScsiResponse) {
        this.expStatSN = (pdu.bhs.readUInt32BE(24) + 1) >>> 0;
        if (pdu.bhs[2] !== 0) fail('COMMAND_FAILED', `${this.peer} could not run the command (iSCSI response 0x${pdu.bhs[2]!.toString(16)})`);
        const status = pdu.bhs[3]!;
        let sense: Sense | undefined;
        if (pdu.data.length >= 2) {
          const len = pdu.data.readUInt16BE(0);
          sense = parseSense(pdu.data.subarray(2, 2 + len));
        }
        return { status, data: data.subarray(0, got), sense, residual: pdu.bhs.readUInt32BE(44) };
      }
      fail('PROTOCOL_ERROR', `${this.peer} answered a SCSI command with opcode 0x${op.toString(16)}`);
    }
  }

  /**
   * Logs out politely (waits briefly for the answer, whatever else the target sends meanwhile),
   * then closes; cancelled or past its deadline, it just closes. Never throws.
   */
  async logout(): Promise<void> {
    try {
      if (this.opts.signal?.aborted) return;
      const itt = this.nextItt();
      this.conn.send(buildLogoutRequest({ itt, cmdSN: this.cmdSN, expStatSN: this.expStatSN }, this.digests));
      const wait = Math.min(this.timeout, 2000);
      const deadline = Date.now() + wait;
      for (;;) {
        const pdu = await this.conn.receive(wait, 'logout response', this.opts.signal, deadline);
        if (opcodeOf(pdu.bhs) === Opcode.LogoutResponse) break;
      }
    } catch {
      // The target may drop the connection instead of answering: the session is over either way.
    } finally {
      this.conn.close();
    }
  }

  /**
   * Sequence numbers for a caller that runs its own pipelined command loop on this session
   * (lun-writer.ts): a fresh ITT, and the CmdSN/ExpStatSN it hands back before logout.
   */
  allocItt(): number {
    return this.nextItt();
  }

  /** The next CmdSN and ExpStatSN this session would send. */
  get sequence(): { cmdSN: number; expStatSN: number } {
    return { cmdSN: this.cmdSN, expStatSN: this.expStatSN };
  }

  /** Takes back the sequence numbers a pipelined loop advanced (so logout carries them). */
  setSequence(seq: { cmdSN: number; expStatSN: number }): void {
    this.cmdSN = seq.cmdSN >>> 0;
    this.expStatSN = seq.expStatSN >>> 0;
  }

  /** Closes without logout. */
  close(): void {
    this.conn.close();
  }
}

/** Thrown inside login when a target refuses the response of the CHAP algorithm it chose. */
class ChapAlgorithmRefused extends Error {
  constructor(readonly alg: number) {
    super('chap algorithm refused');
  }
}

/** Thrown inside login when the target redirects (status class 1). */
class Redirect extends Error {
  constructor(
    readonly address: string,
    readonly port: number,
  ) {
    super('redirect');
  }
}

/** Turns anything thrown into a BootchainError (for callers that need one). */
export function asBootchainError(e: unknown): BootchainError {
  if (e instanceof BootchainError) return e;
  return new BootchainError(appError('INTERNAL', e instanceof Error ? e.message : String(e)));
}
