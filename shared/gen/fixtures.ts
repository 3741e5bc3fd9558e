import type { ProjectInput } from '../model/project';

/** A complete, valid project used by tests and the lab (BIOS + UEFI workstations, CHAP). */
export function sampleProject(over: Partial<ProjectInput> = {}): ProjectInput {
  return {
    version: 1,
    name: 'lab',
    nas: { address: '10.77.0.20', iscsiPort: 3260, tftpRoot: '/srv/tftp' },
    router: {
      kind: 'dnsmasq',
      rootPath: '',
      subnet: { cidr: '10.77.0.0/24', rangeStart: '10.77.0.100', rangeEnd: '10.77.0.150', gateway: '10.77.0.1', interface: 'eth0' },
      dhcpServerName: 'dhcp1',
    },
    iqn: { domain: 'bootchain.test', date: '2026-11' },
    boot: { biosFile: 'undionly.kpxe', uefiFile: 'snponly.efi', userClass: 'bootchain' },
    workstations: [
      {
        name: 'ws1',
        mac: '52:54:00:12:34:56',
        firmware: 'bios',
        target: 'iqn.2026-11.test.bootchain.lab:ws1',
        lun: 1,
        initiatorIqn: 'iqn.2026-11.test.bootchain:ws1-525400123456',
        initramfs: 'genkernel',
      },
      {
        name: 'ws2',
        mac: '52:54:00:ab:cd:ef',
        firmware: 'uefi',
        target: 'iqn.2026-11.test.bootchain.lab:ws2-uefi',
        lun: 1,
        initiatorIqn: 'iqn.2026-11.test.bootchain:ws2-525400abcdef',
        chap: { username: 'ws2-user', secretRef: 'ws2.chap', mutual: { username: 'nas', secretRef: 'ws2.chap-mutual' } },
        uefiFilename: '\\EFI\\BOOT\\BOOTX64.EFI',
        initramfs: 'dracut',
        root: 'UUID=1234-abcd',
      },
    ],
    ...over,
  };
}

/** Secrets for sampleProject. */
export const SAMPLE_SECRETS: Record<string, string> = { 'ws2.chap': 'Abcdefgh2345', 'ws2.chap-mutual': 'Zyxwvuts9876' };
