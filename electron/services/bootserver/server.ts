/**
 * The boot server as one unit (CLI `bootchain serve`, the Upload step's "Serve from this
 * computer"): TFTP, HTTP and, when switched on, proxyDHCP, over one folder.
 */
import { appError, BootchainError } from '../../../shared/errors';
import type { ServeEvent, ServeOptions } from '../../../shared/bootserver';
import { BootHttpServer } from './http-server';
import { ProxyDhcpServer } from './proxydhcp';
import { TftpServer } from './tftp-server';

export class BootServer {
  tftp: TftpServer | undefined;
  http: BootHttpServer | undefined;
  proxy: ProxyDhcpServer | undefined;

  constructor(
    private readonly o: ServeOptions,
    private readonly onEvent: (e: ServeEvent) => void,
  ) {}

  /** Starts every part; a port that cannot be bound stops all with a clear error. */
  async start(): Promise<{ tftp: string; http?: string | undefined }> {
    const bindError = (what: string, port: number, e: unknown): never => {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM') {
        throw new BootchainError(appError('PERMISSION_DENIED', `Bootchain may not use ${what} port ${port}`, { hint: `Ports below 1024 need a one-time grant: "Ports below 1024" under Rights in the Verify step (or bootchain privileges grant ports). For a test, use ports above 1024.` }));
      }
      if (code === 'EADDRINUSE') throw new BootchainError(appError('BUSY', `${what} port ${port} on ${this.o.address} is already in use`, { hint: `Another ${what} server runs here (tftpd-hpa, dnsmasq, a web server): stop it, or choose another port.` }));
      if (code === 'EADDRNOTAVAIL') throw new BootchainError(appError('INVALID_INPUT', `${this.o.address} is not an address of this computer`, { field: 'address', hint: 'Choose the address of this computer on the workstations\' network.' }));
      throw e;
    };
    try {
      this.tftp = new TftpServer({ root: this.o.root, address: this.o.address, port: this.o.tftpPort, onEvent: this.onEvent });
      await this.tftp.start().catch((e) => bindError('TFTP', this.o.tftpPort, e));
      if (this.o.httpPort > 0) {
        this.http = new BootHttpServer({ root: this.o.root, address: this.o.address, port: this.o.httpPort, onEvent: this.onEvent });
        await this.http.start().catch((e) => bindError('HTTP', this.o.httpPort, e));
      }
      const httpBase = this.http ? `http://${this.o.address}:${this.o.httpPort}` : undefined;
      if (this.o.proxyDhcp) {
        this.proxy = new ProxyDhcpServer({
          address: this.o.address,
          biosFile: this.o.biosFile,
          uefiFile: this.o.uefiFile,
          ipxeFile: httpBase ? `${httpBase}/default.ipxe` : 'default.ipxe',
          rootPath: httpBase,
          userClass: this.o.userClass,
          macs: this.o.macs,
          onEvent: this.onEvent,
        });
        await this.proxy.start().catch((e) => bindError('proxyDHCP', 67, e));
      }
      this.onEvent({ kind: 'server', client: this.o.address, status: 'listening', bytes: 0, message: `TFTP ${this.o.address}:${this.o.tftpPort}${httpBase ? `, HTTP ${httpBase}` : ''}${this.proxy ? ', proxyDHCP on 67/4011' : ''}, serving ${this.o.root}`, at: Date.now() });
      return { tftp: `${this.o.address}:${this.o.tftpPort}`, http: httpBase };
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    await this.proxy?.stop();
    await this.http?.stop();
    await this.tftp?.stop();
    this.proxy = this.http = this.tftp = undefined;
  }
}
