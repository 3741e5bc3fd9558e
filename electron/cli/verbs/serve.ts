import path from 'node:path';
import { ServeInput, type ServeEvent } from '../../../shared/bootserver';
import { appError, BootchainError } from '../../../shared/errors';
import { projectMacs } from '../../services/bootserver/job';
import { BootServer } from '../../services/bootserver/server';
import { keepServing } from '../../services/net/guard';
import { listInterfaces } from '../../services/net/interfaces';
import { PROJECT_FLAG, projectFrom } from '../inputs';
import { usage, verb } from '../options';

export const serve = verb({
  name: 'serve',
  usage: ['serve --root DIR'],
  summary: 'serve boot files from this computer until Ctrl-C: TFTP, HTTP, optionally proxyDHCP (see "Serving from this computer").',
  about:
    'TFTP (RFC 1350 + blksize, tsize, timeout, windowsize), HTTP for iPXE, and optionally proxyDHCP, so a workstation boots with no NAS TFTP and no router change. The folder is served as it is (the app\'s Serve assembles the project\'s files first).',
  flags: [
    { name: 'root', value: 'DIR', help: 'the folder with the boot files', field: 'root' },
    { name: 'address', value: 'IP', help: "the address to serve on (default: the --proxy-dhcp interface's, else 0.0.0.0)", field: 'address' },
    { name: 'tftp-port', value: 'N', help: 'TFTP port (default 69; below 1024 needs root or cap_net_bind_service)', field: 'tftpPort' },
    { name: 'http', value: 'PORT', help: 'HTTP port for iPXE (default 8080; 0: no HTTP)', field: 'httpPort' },
    {
      name: 'proxy-dhcp',
      value: 'IFACE',
      help: "answer PXE clients on IFACE as a proxyDHCP server (ports 67 and 4011): the firmware gets iPXE over TFTP, any iPXE gets http://ADDRESS:PORT/default.ipxe (default.ipxe over TFTP without HTTP), Bootchain's iPXE also option 17 = http://ADDRESS:PORT (set the project's root path to it); never hands out addresses",
    },
    { ...PROJECT_FLAG, help: "take the boot file names and user-class from the project, and let proxyDHCP answer only its workstations' MACs" },
  ],
  async run(a) {
    const root = a.str('root');
    if (!root) throw usage('serve needs --root DIR (the folder with the boot files)');
    const iface = a.str('proxy-dhcp');
    let address = a.str('address');
    if (iface) {
      const ni = listInterfaces().find((i) => i.name === iface);
      if (!ni) throw usage(`--proxy-dhcp: there is no interface "${iface}" (see bootchain interfaces)`);
      address ??= ni.subnets[0]?.address;
      if (!address) throw usage(`--proxy-dhcp: ${iface} has no IPv4 address`);
    }
    const p = a.str('project') ? projectFrom(a, 'serve').project : undefined;
    const parsed = ServeInput.safeParse({
      root: path.resolve(root),
      address: address ?? '0.0.0.0',
      tftpPort: a.int('tftp-port') ?? 69,
      httpPort: a.int('http') ?? 8080,
      proxyDhcp: iface !== undefined,
      ...(p ? { biosFile: p.boot.biosFile, uefiFile: p.boot.uefiFile, userClass: p.boot.userClass, macs: projectMacs(p) } : {}),
    });
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new BootchainError(appError('INVALID_INPUT', issue?.message ?? 'invalid options', { field: issue?.path.map(String).join('.') }));
    }
    if (parsed.data.proxyDhcp && parsed.data.address === '0.0.0.0') throw usage('proxyDHCP needs the address clients should boot from: give --address');
    const print = (e: ServeEvent) => {
      if (a.json) process.stdout.write(`${JSON.stringify(e)}\n`);
      else if (!a.quiet) process.stdout.write(`${new Date(e.at).toISOString().slice(11, 23)} ${e.kind.padEnd(9)} ${e.status.padEnd(9)} ${e.client}${e.file ? ` ${e.file}` : ''}${e.bytes ? ` ${e.bytes} bytes` : ''}${e.message ? ` — ${e.message}` : ''}\n`);
    };
    const server = new BootServer(parsed.data, print);
    await server.start();
    // Anyone on the LAN can send to it: a bug one request reaches is reported, the rest are served.
    const unguard = keepServing((message) => {
      print({ kind: 'server', client: parsed.data.address, status: 'failed', bytes: 0, message, at: Date.now() });
      if (a.quiet && !a.json) process.stderr.write(`bootchain serve: ${message}\n`);
    });
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    unguard();
    await server.stop();
    return 0;
  },
});
