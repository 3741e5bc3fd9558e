import net from 'node:net';
import { BootchainError, appError, fail } from '../../../shared/errors';
import { PduReader, type Digests, type Pdu } from './pdu';

/** Where and how long to connect. */
export interface ConnectOptions {
  host: string;
  port: number;
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

const hostPort = (host: string, port: number) => (host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`);

/**
 * One TCP connection carrying iSCSI PDUs. Received PDUs queue up; `receive` waits for the next
 * with a deadline (a target that drips bytes still hits it); any error is sticky and closes the
 * socket. Buffering is bounded by the PduReader's limit.
 */
export class IscsiConnection {
  readonly reader: PduReader;
  sendDigests: Digests = { header: false, data: false };
  readonly peer: string;
  private readonly queue: Pdu[] = [];
  private waiter: ((e?: BootchainError) => void) | undefined;
  private error: BootchainError | undefined;

  private constructor(
    private readonly sock: net.Socket,
    peer: string,
    maxRecv: number,
  ) {
    this.peer = peer;
    this.reader = new PduReader({ maxDataSegmentLength: maxRecv });
    sock.on('data', (chunk: Buffer) => {
      if (this.error) return;
      try {
        for (const p of this.reader.push(chunk)) this.queue.push(p);
      } catch (e) {
        this.setError(e instanceof BootchainError ? e : new BootchainError(appError('PROTOCOL_ERROR', String(e))));
        return;
      }
      this.wake();
    });
    sock.on('end', () =>
      this.setError(
        new BootchainError(
          appError('UNREACHABLE', `${peer} closed the connection`, {
            hint: 'The target ended the session: check the target name, the ACL and CHAP settings on the NAS.',
            retryable: true,
          }),
        ),
      ),
    );
    sock.on('error', (e: NodeJS.ErrnoException) =>
      this.setError(new BootchainError(appError('UNREACHABLE', `Connection to ${peer} failed: ${e.code ?? e.message}`, { retryable: true }))),
    );
    sock.on('close', () => this.setError(new BootchainError(appError('UNREACHABLE', `${peer} closed the connection`, { retryable: true }))));
  }

  /** Opens a TCP connection with a deadline and cancel. */
  static open(opts: ConnectOptions & { maxRecvDataSegmentLength: number }): Promise<IscsiConnection> {
    const peer = hostPort(opts.host, opts.port);
    return new Promise((resolve, reject) => {
      if (opts.signal?.aborted) return reject(new BootchainError(appError('CANCELLED', 'Cancelled')));
      const sock = net.connect({ host: opts.host, port: opts.port });
      sock.setNoDelay(true);
      const cleanup = () => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        sock.removeListener('connect', onConnect);
        sock.removeListener('error', onError);
      };
      const onAbort = () => {
        cleanup();
        sock.destroy();
        reject(new BootchainError(appError('CANCELLED', 'Cancelled')));
      };
      const onConnect = () => {
        cleanup();
        resolve(new IscsiConnection(sock, peer, opts.maxRecvDataSegmentLength));
      };
      const onError = (e: NodeJS.ErrnoException) => {
        cleanup();
        sock.destroy();
        const refused = e.code === 'ECONNREFUSED';
        reject(
          new BootchainError(
            appError('UNREACHABLE', refused ? `Nothing listens on ${peer}` : `Cannot reach ${peer} (${e.code ?? e.message})`, {
              hint: refused
                ? 'Check that the iSCSI service is enabled on the NAS and that the port is right (3260 by default).'
                : 'Check the address and that the NAS is on and on this network.',
              retryable: true,
            }),
          ),
        );
      };
      const timer = setTimeout(() => {
        cleanup();
        sock.destroy();
        reject(
          new BootchainError(
            appError('TIMEOUT', `No answer from ${peer} within ${opts.timeoutMs} ms`, {
              hint: 'Check the address, that the NAS is on, and that no firewall drops port 3260.',
            }),
          ),
        );
      }, opts.timeoutMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      sock.once('connect', onConnect);
      sock.once('error', onError);
    });
  }

  private setError(e: BootchainError): void {
    if (this.error) return;
    this.error = e;
    this.sock.destroy();
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  /** Sends bytes already encoded. */
  send(buf: Buffer): void {
    if (this.error) throw this.error;
    this.sock.write(buf);
  }

  /**
   * Sends the parts of one or more PDUs in one burst without copying them (the socket keeps
   * references until written). False when the socket's buffer is full: wait for drained().
   */
  sendParts(parts: Buffer[]): boolean {
    if (this.error) throw this.error;
    this.sock.cork();
    let ok = true;
    for (const p of parts) ok = this.sock.write(p);
    this.sock.uncork();
    return ok && this.sock.writableLength < this.sock.writableHighWaterMark;
  }

  /** Resolves when the socket's send buffer has drained (or the connection failed). */
  drained(): Promise<void> {
    if (this.error || this.sock.writableLength < this.sock.writableHighWaterMark) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.sock.off('drain', done);
        this.sock.off('close', done);
        resolve();
      };
      this.sock.on('drain', done);
      this.sock.on('close', done);
    });
  }

  /** Bytes handed to the socket and not yet written to the kernel. */
  get sendBuffered(): number {
    return this.sock.writableLength;
  }

  /**
   * The next PDU, within `timeoutMs`; `what` names it in the timeout message. `deadline` (epoch
   * ms) is the end of the wait when it started earlier (a wait that PDUs of no interest — NOP-In
   * pings — must not extend).
   */
  async receive(timeoutMs: number, what: string, signal?: AbortSignal, deadline = Date.now() + timeoutMs): Promise<Pdu> {
    for (;;) {
      const p = this.queue.shift();
      if (p) return p;
      if (this.error) throw this.error;
      if (signal?.aborted) throw new BootchainError(appError('CANCELLED', 'Cancelled'));
      const left = deadline - Date.now();
      if (left <= 0) {
        const e = new BootchainError(
          appError('TIMEOUT', `${this.peer} did not send the ${what} within ${timeoutMs} ms`, {
            hint: 'The target is too slow or not an iSCSI target: check the address and port.',
            ...(this.reader.buffered > 0 ? { detail: `${this.reader.buffered} bytes of an incomplete PDU were received` } : {}),
          }),
        );
        this.setError(e);
        throw e;
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, left);
        const onAbort = () => done();
        signal?.addEventListener('abort', onAbort, { once: true });
        function done() {
          clearTimeout(t);
          signal?.removeEventListener('abort', onAbort);
          resolve();
        }
        this.waiter = done;
      });
    }
  }

  /** Closes the socket (idempotent). */
  close(): void {
    if (!this.error) this.error = new BootchainError(appError('CANCELLED', 'Connection closed'));
    this.sock.destroy();
  }
}

/** Throws when a signal is aborted. */
export function throwIfAborted(signal?: AbortSignal): void {
  if (signal?.aborted) fail('CANCELLED', 'Cancelled');
}

/**
 * Runs a whole iSCSI job (connect, login, requests, logout) under an overall deadline besides the
 * caller's cancel: `fn` gets a signal that aborts on either, and the deadline's abort comes out as
 * a TIMEOUT. A target that answers every step in time (pings, endless continuations) still ends.
 */
export async function withDeadline<T>(o: { signal?: AbortSignal | undefined; deadlineMs?: number | undefined }, what: string, fn: (signal: AbortSignal | undefined) => Promise<T>): Promise<T> {
  if (o.deadlineMs === undefined) return fn(o.signal);
  const ac = new AbortController();
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    ac.abort();
  }, o.deadlineMs);
  const onCancel = () => ac.abort();
  if (o.signal?.aborted) ac.abort();
  o.signal?.addEventListener('abort', onCancel, { once: true });
  try {
    return await fn(ac.signal);
  } catch (e) {
    if (late && !o.signal?.aborted) {
      throw new BootchainError(
        appError('TIMEOUT', `${what} did not finish within ${o.deadlineMs} ms`, {
          hint: 'The target answered each step but never finished (it may be overloaded or misbehaving): check the NAS, or allow more time (deadline).',
          retryable: true,
        }),
      );
    }
    throw e;
  } finally {
    clearTimeout(timer);
    o.signal?.removeEventListener('abort', onCancel);
  }
}
