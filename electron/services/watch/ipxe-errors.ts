/**
 * iPXE's error URLs (`https://ipxe.org/2c0d603b`, `http://ipxe.org/040ee119`, `https://ipxe.org/err/3c0920`)
 * decoded into words, without asking ipxe.org. Pure functions.
 *
 * How iPXE builds the number (src/include/errno.h, the "Error codes" comment and __einfo_errno()):
 *   bits 31    reserved (errors are returned negated)
 *   bits 30-24 the closest POSIX error (EINFO_ENODEV = 0x2c ...)
 *   bits 23-13 the file that raised it (ERRFILE_xxx, src/include/ipxe/errfile.h: bits 15-13 the
 *              class — core, driver, net, image, other —, bits 22-16 the file within the class,
 *              bit 23 ERRFILE_ARCH for architecture-specific files in arch/x86/include/bits/errfile.h)
 *   bits 12-8  the per-file disambiguator (__einfo_uniqify: e.g. iscsi.c's "Incorrect target username")
 *   bits 7-0   the platform's own code: a PXENV_STATUS under BIOS (arch/x86/include/ipxe/errno/pcbios.h),
 *              an EFI_STATUS squeezed into a byte under UEFI (include/ipxe/errno/efi.h: error bit -> 0x80)
 * strerror() (src/hci/strerror.c) prints "<text> (https://ipxe.org/%08x)" — v2.0.0's PRODUCT_ERROR_URI
 * in config/branding.h; the 2019 builds print http:// — and ipxe.org's own pages are /err/ plus the
 * first six digits (the platform byte dropped), e.g. https://ipxe.org/err/3c0920.
 */

/** One iPXE error number taken apart. */
export interface IpxeError {
  /** The digits as written (8, or 6 for an /err/ page), lower case. */
  code: string;
  /** The 24 platform-independent bits as six hex digits (ipxe.org's /err/ page name). */
  page: string;
  /** ipxe.org's page for it. */
  url: string;
  /** Bits 30-24: the POSIX error, its name and iPXE's text for it (errno.h). */
  posix: { value: number; name: string; text: string };
  /** Bits 23-13: the file that raised it; `name` when it is one of the boot path's files below. */
  file: { id: number; class: 'core' | 'driver' | 'net' | 'image' | 'other' | 'unknown'; arch: boolean; name?: string | undefined };
  /** Bits 12-8: which of the file's uses of that POSIX error (0: the plain one). */
  uniq: number;
  /** Bits 7-0 (absent for a six-digit page code): PXENV_STATUS under BIOS, EFI status byte under UEFI. */
  platform?: number | undefined;
  /**
   * What the platform byte means on each platform, where a table below knows it: the PXENV_STATUS
   * a BIOS build puts there, the EFI_STATUS a UEFI build does (one URL does not say which built it;
   * the consoles' BIOS and EFI builds wrote 0x3b and 0x8e for the same TFTP "Not found").
   */
  platformAs?: { bios?: string | undefined; uefi?: string | undefined } | undefined;
  /** iPXE's own text for this exact error when known (a disambiguated one such as "Incorrect target password"), else the POSIX text. */
  text: string;
  /** A sentence for a person: what failed where. */
  words: string;
}

/**
 * The POSIX part: bits 30-24 as iPXE defines them in src/include/errno.h (EINFO_E*: value, text).
 * The texts are iPXE's (they are what its console prints before the URL), including its own spelling.
 */
const POSIX: Record<number, [string, string]> = {
  0x00: ['ENOERR', 'Operation completed successfully'],
  0x01: ['E2BIG', 'Argument list too long'],
  0x02: ['EACCES', 'Permission denied'],
  0x03: ['EADDRINUSE', 'Address already in use'],
  0x04: ['EADDRNOTAVAIL', 'Address not available'],
  0x05: ['EAFNOSUPPORT', 'Address family not supported'],
  0x06: ['EAGAIN', 'Resource temporarily unavailable'],
  0x07: ['EALREADY', 'Connection already in progress'],
  0x08: ['EBADF', 'Bad file descriptor'],
  0x09: ['EBADMSG', 'Bad message'],
  0x0a: ['EBUSY', 'Device or resource busy'],
  0x0b: ['ECANCELED', 'Operation canceled'],
  0x0c: ['ECHILD', 'No child processes'],
  0x0d: ['ECONNABORTED', 'Connection aborted'],
  0x0e: ['ECONNREFUSED', 'Connection refused'],
  0x0f: ['ECONNRESET', 'Connection reset'],
  0x10: ['EDEADLK', 'Resource deadlock avoided'],
  0x11: ['EDESTADDRREQ', 'Destination address required'],
  0x12: ['EDOM', 'Mathematics argument out of domain of function'],
  0x13: ['EDQUOT', 'Disk quote exceeded'],
  0x14: ['EEXIST', 'File exists'],
  0x15: ['EFAULT', 'Bad address'],
  0x16: ['EFBIG', 'File too large'],
  0x17: ['EHOSTUNREACH', 'Host is unreachable'],
  0x18: ['EIDRM', 'Identifier removed'],
  0x19: ['EILSEQ', 'Illegal byte sequence'],
  0x1a: ['EINPROGRESS', 'Operation in progress'],
  0x1b: ['EINTR', 'Interrupted function call'],
  0x1c: ['EINVAL', 'Invalid argument'],
  0x1d: ['EIO', 'Input/output error'],
  0x1e: ['EISCONN', 'Socket is connected'],
  0x1f: ['EISDIR', 'Is a directory'],
  0x20: ['ELOOP', 'Too many levels of symbolic links'],
  0x21: ['EMFILE', 'Too many open files'],
  0x22: ['EMLINK', 'Too many links'],
  0x23: ['EMSGSIZE', 'Message too long'],
  0x24: ['EMULTIHOP', 'Multihop attempted'],
  0x25: ['ENAMETOOLONG', 'Filename too long'],
  0x26: ['ENETDOWN', 'Network is down'],
  0x27: ['ENETRESET', 'Connection aborted by network'],
  0x28: ['ENETUNREACH', 'Network unreachable'],
  0x29: ['ENFILE', 'Too many open files in system'],
  0x2a: ['ENOBUFS', 'No buffer space available'],
  0x2b: ['ENODATA', 'No message is available on the STREAM head read queue'],
  0x2c: ['ENODEV', 'No such device'],
  0x2d: ['ENOENT', 'No such file or directory'],
  0x2e: ['ENOEXEC', 'Exec format error'],
  0x2f: ['ENOLCK', 'No locks available'],
  0x30: ['ENOLINK', 'Link has been severed'],
  0x31: ['ENOMEM', 'Not enough space'],
  0x32: ['ENOMSG', 'No message of the desired type'],
  0x33: ['ENOPROTOOPT', 'Protocol not available'],
  0x34: ['ENOSPC', 'No space left on device'],
  0x35: ['ENOSR', 'No STREAM resources'],
  0x36: ['ENOSTR', 'Not a STREAM'],
  0x37: ['ENOSYS', 'Function not implemented'],
  0x38: ['ENOTCONN', 'The socket is not connected'],
  0x39: ['ENOTDIR', 'Not a directory'],
  0x3a: ['ENOTEMPTY', 'Directory not empty'],
  0x3b: ['ENOTSOCK', 'Not a socket'],
  0x3c: ['ENOTSUP', 'Operation not supported'],
  0x3d: ['ENOTTY', 'Inappropriate I/O control operation'],
  0x3e: ['ENXIO', 'No such device or address'],
  0x3f: ['EOPNOTSUPP', 'Operation not supported on socket'],
  0x40: ['EOVERFLOW', 'Value too large to be stored in data type'],
  0x41: ['EPERM', 'Operation not permitted'],
  0x42: ['EPIPE', 'Broken pipe'],
  0x43: ['EPROTO', 'Protocol error'],
  0x44: ['EPROTONOSUPPORT', 'Protocol not supported'],
  0x45: ['EPROTOTYPE', 'Protocol wrong type for socket'],
  0x46: ['ERANGE', 'Result too large'],
  0x47: ['EROFS', 'Read-only file system'],
  0x48: ['ESPIPE', 'Invalid seek'],
  0x49: ['ESRCH', 'No such process'],
  0x4a: ['ESTALE', 'Stale file handle'],
  0x4b: ['ETIME', 'Timer expired'],
  0x4c: ['ETIMEDOUT', 'Connection timed out'],
  0x4d: ['ETXTBSY', 'Text file busy'],
  0x4e: ['EWOULDBLOCK', 'Operation would block'],
  0x4f: ['EXDEV', 'Improper link'],
  0x7f: ['EPLATFORM', 'Platform-generated error'],
};

/**
 * The PXENV_STATUS values iPXE maps POSIX errors to in BIOS builds (arch/x86/include/ipxe/errno/pcbios.h
 * PLATFORM_E*, values from arch/x86/include/pxe_error.h).
 */
const PXENV: Record<number, string> = {
  0x00: 'PXENV_STATUS_SUCCESS',
  0x01: 'PXENV_STATUS_FAILURE',
  0x02: 'PXENV_STATUS_BAD_FUNC',
  0x03: 'PXENV_STATUS_UNSUPPORTED',
  0x06: 'PXENV_STATUS_OUT_OF_RESOURCES',
  0x11: 'PXENV_STATUS_ARP_TIMEOUT',
  0x19: 'PXENV_STATUS_UDP_OPEN',
  0x1a: 'PXENV_STATUS_TFTP_CLOSED',
  0x1b: 'PXENV_STATUS_TFTP_OPEN',
  0x20: 'PXENV_STATUS_MCOPY_PROBLEM',
  0x35: 'PXENV_STATUS_TFTP_READ_TIMEOUT',
  0x38: 'PXENV_STATUS_TFTP_CANNOT_OPEN_CONNECTION',
  0x39: 'PXENV_STATUS_TFTP_CANNOT_READ_FROM_CONNECTION',
  0x3b: 'PXENV_STATUS_TFTP_FILE_NOT_FOUND',
  0x3c: 'PXENV_STATUS_TFTP_ACCESS_VIOLATION',
  0xa0: 'PXENV_STATUS_BINL_CANCELED_BY_KEYSTROKE',
};

/**
 * EFI status codes by number (UEFI 2.10 Appendix D; include/ipxe/efi/Base.h RETURN_*): a UEFI build's
 * platform byte is the code with the error bit moved to 0x80 (include/ipxe/errno/efi.h PLATFORM_TO_ERRNO).
 */
const EFI_ERRORS = ['SUCCESS', 'LOAD_ERROR', 'INVALID_PARAMETER', 'UNSUPPORTED', 'BAD_BUFFER_SIZE', 'BUFFER_TOO_SMALL', 'NOT_READY', 'DEVICE_ERROR', 'WRITE_PROTECTED', 'OUT_OF_RESOURCES', 'VOLUME_CORRUPTED', 'VOLUME_FULL', 'NO_MEDIA', 'MEDIA_CHANGED', 'NOT_FOUND', 'ACCESS_DENIED', 'NO_RESPONSE', 'NO_MAPPING', 'TIMEOUT', 'NOT_STARTED', 'ALREADY_STARTED', 'ABORTED', 'ICMP_ERROR', 'TFTP_ERROR', 'PROTOCOL_ERROR', 'INCOMPATIBLE_VERSION', 'SECURITY_VIOLATION', 'CRC_ERROR', 'END_OF_MEDIA', undefined, undefined, 'END_OF_FILE', 'INVALID_LANGUAGE', 'COMPROMISED_DATA', 'IP_ADDRESS_CONFLICT', 'HTTP_ERROR'];

function platformAs(b: number): IpxeError['platformAs'] {
  const bios = PXENV[b];
  const efi = b === 0 ? 'EFI_SUCCESS' : b & 0x80 ? EFI_ERRORS[b & 0x7f] && `EFI_${EFI_ERRORS[b & 0x7f]}` : undefined;
  return bios || efi ? { ...(bios ? { bios } : {}), ...(efi ? { uefi: efi } : {}) } : undefined;
}

const CLASSES: Record<number, IpxeError['file']['class']> = { 0x2000: 'core', 0x4000: 'driver', 0x6000: 'net', 0x8000: 'image', 0xe000: 'other' };

/**
 * The files on a network/SAN boot's path, by ERRFILE value (bits 23-13), with what each does.
 * From src/include/ipxe/errfile.h and arch/x86/include/bits/errfile.h (v2.0.0); a hand-picked
 * subset, not the header's ~400 entries. The test checks each against the header when IPXE_SRC is there.
 */
export const IPXE_ERRFILES: Record<number, { name: string; what: string }> = {
  0x012000: { name: 'downloader', what: 'the download of an image' },
  0x072000: { name: 'monojob', what: 'waiting for a job' },
  0x092000: { name: 'open', what: 'opening a URI (its protocol)' },
  0x0c2000: { name: 'settings', what: 'the settings' },
  0x122000: { name: 'blockdev', what: 'a block device' },
  0x222000: { name: 'efi_block', what: "UEFI's SAN boot (the EFI block device)" },
  0x232000: { name: 'sanboot', what: 'the SAN device' },
  0x594000: { name: 'snpnet', what: 'the UEFI network driver (SNP)' },
  0x704000: { name: 'scsi', what: 'SCSI on the SAN device' },
  0x016000: { name: 'arp', what: 'ARP (the next hop\'s MAC address)' },
  0x056000: { name: 'ipv4', what: 'IPv4' },
  0x066000: { name: 'ipv6', what: 'IPv6' },
  0x086000: { name: 'netdevice', what: 'the network device (link, transmit)' },
  0x0a6000: { name: 'tcp', what: 'TCP' },
  0x0c6000: { name: 'httpcore', what: 'HTTP' },
  0x0d6000: { name: 'iscsi', what: 'the iSCSI session (login, CHAP, target)' },
  0x0f6000: { name: 'udp', what: 'UDP' },
  0x106000: { name: 'dhcp', what: 'DHCP' },
  0x116000: { name: 'dns', what: 'DNS' },
  0x126000: { name: 'tftp', what: 'TFTP' },
  0x008000: { name: 'image', what: 'running an image' },
  0x028000: { name: 'script', what: 'an iPXE script' },
  0x048000: { name: 'efi_image', what: 'running an EFI image' },
  0x058000: { name: 'embedded', what: 'the embedded script' },
  0x03e000: { name: 'autoboot', what: 'the boot sequence (autoboot)' },
  0x04e000: { name: 'dhcpmgmt', what: 'DHCP (the command)' },
  0x05e000: { name: 'imgmgmt', what: 'fetching an image' },
  0x0de000: { name: 'tls', what: 'TLS' },
  0x0ee000: { name: 'ifmgmt', what: 'configuring the network interface' },
  0x852000: { name: 'int13', what: "the BIOS's SAN boot (INT 13 disk)" },
  0x858000: { name: 'pxe_image', what: 'running a PXE image' },
  0x8d8000: { name: 'pxe_call', what: 'a PXE call' },
  0x816000: { name: 'undiload', what: 'loading the UNDI driver' },
  0x826000: { name: 'undinet', what: 'the UNDI network driver' },
};

/**
 * The disambiguated errors a boot meets, by page code (posix | file | uniq as six hex digits):
 * iPXE's own texts from the __einfo_uniqify() definitions of usr/ifmgmt.c, usr/autoboot.c,
 * net/tcp/iscsi.c, net/tcp/httpcore.c, net/udp/tftp.c and core/image.c (v2.0.0). iscsi.c has no
 * error table, so iPXE itself prints only the POSIX text for those ("Operation not permitted").
 */
const SPECIFIC: Record<string, string> = {
  '040ee1': 'No configuration methods succeeded', // ifmgmt.c EADDRNOTAVAIL_CONFIG: no DHCP answer
  '2d03e1': 'Nothing to boot', // autoboot.c ENOENT_BOOT
  '020d61': 'Incorrect target username', // iscsi.c EACCES_INCORRECT_TARGET_USERNAME (mutual CHAP)
  '020d62': 'Incorrect target password',
  '1c0d61': 'Root path too short',
  '1c0d62': 'Bad credential mix',
  '1c0d63': 'No root path',
  '1c0d64': 'No target IQN',
  '1c0d65': 'No initiator IQN',
  '1c0d66': 'Invalid MaxBurstLength',
  '1d0d61': 'Target not currently operational',
  '1d0d62': 'Target out of resources',
  '3c0d61': 'Unsupported initiator status',
  '3c0d62': 'Unsupported opcode',
  '3c0d63': 'Discovery not supported',
  '3c0d64': 'Unsupported target status',
  '410d61': 'Initiator authentication failed', // the target refused our CHAP (wrong user or secret)
  '410d62': 'Initiator not authorised', // the target's ACL does not allow this IQN
  '430d61': 'Invalid CHAP algorithm',
  '430d62': 'Invalid CHAP identifier',
  '430d63': 'Invalid large binary value',
  '430d64': 'Invalid CHAP response',
  '430d65': 'Invalid key/value pair',
  '430d66': 'Parameter rejected',
  '020c61': 'HTTP 401 Unauthorized',
  '1c0c61': 'Invalid status line',
  '1c0c62': 'Invalid header',
  '1c0c63': 'Invalid content length',
  '1c0c64': 'Invalid chunk length',
  '1d0c61': 'Unrecognised HTTP response code',
  '1d0c62': 'Content length mismatch',
  '1d0c64': 'HTTP 4xx Client Error',
  '1d0c65': 'HTTP 5xx Server Error',
  '2d0c61': 'Not found', // HTTP 404
  '3c0c61': 'Unsupported connection header',
  '3c0c62': 'Unsupported transfer encoding',
  '410c61': 'HTTP 403 Forbidden',
  '430c61': 'Unsolicited data',
  '2d1261': 'Not found', // tftp.c ENOENT_NOT_FOUND: the TFTP server has no such file
  '020081': 'Untrusted image', // image.c EACCES_UNTRUSTED
  '020082': 'Trust requirement is permanent',
};

/** iPXE error URLs in a console line: ipxe.org/XXXXXXXX (strerror) or ipxe.org/err/XXXXXX[XX] (its pages). */
const URL_RE = /\bhttps?:\/\/ipxe\.org\/(?:err\/)?([0-9a-f]{8}|[0-9a-f]{6})\b/gi;

/** Takes one iPXE error number apart: a number, 8 hex digits ("2c0d603b"), or an /err/ page's 6. */
export function decodeIpxeError(code: number | string): IpxeError | undefined {
  let hex: string;
  if (typeof code === 'number') {
    if (!Number.isInteger(code)) return undefined;
    hex = (Math.abs(code) >>> 0).toString(16).padStart(8, '0');
  } else hex = code.trim().toLowerCase().replace(/^0x/, '');
  if (!/^(?:[0-9a-f]{6}|[0-9a-f]{8})$/.test(hex)) return undefined;
  const full = hex.length === 8;
  const n = full ? parseInt(hex, 16) : parseInt(hex, 16) * 256;
  if (n & 0x80000000) return undefined; // bit 31 is reserved: not an iPXE error number
  const posixValue = (n >>> 24) & 0x7f;
  const [posixName, posixText] = POSIX[posixValue] ?? [`E?${posixValue.toString(16)}`, `POSIX error 0x${posixValue.toString(16).padStart(2, '0')} (not in iPXE's errno.h)`];
  const fileId = n & 0x00ffe000;
  const arch = (fileId & 0x00800000) !== 0;
  const cls = CLASSES[fileId & 0xe000] ?? 'unknown';
  const known = IPXE_ERRFILES[fileId];
  const uniq = (n >>> 8) & 0x1f;
  const page = hex.slice(0, 6);
  const specific = SPECIFIC[page];
  const text = specific ?? posixText;
  const where = known ? `in ${known.what} (${known.name}.c)` : `in iPXE ${cls} file 0x${(fileId >>> 13).toString(16)}${arch ? ' (architecture-specific)' : ''}`;
  const which = specific ? '' : uniq ? `, case ${uniq} of that error in the file` : '';
  return {
    code: hex,
    page,
    url: `https://ipxe.org/err/${page}`,
    posix: { value: posixValue, name: posixName, text: posixText },
    file: { id: fileId, class: cls, arch, ...(known ? { name: known.name } : {}) },
    uniq,
    ...(full ? { platform: n & 0xff } : {}),
    ...(full && platformAs(n & 0xff) ? { platformAs: platformAs(n & 0xff) } : {}),
    text,
    words: `${text} (${posixName}) ${where}${which}`,
  };
}

/** Every iPXE error URL in a piece of text, decoded, in order of appearance. */
export function findIpxeErrors(text: string): IpxeError[] {
  const out: IpxeError[] = [];
  for (const m of text.matchAll(URL_RE)) {
    const d = decodeIpxeError(m[1]!);
    if (d) out.push(d);
  }
  return out;
}
