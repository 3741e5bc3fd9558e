/**
 * Whether a private key file needs a passphrase, read from its own header: OpenSSH's format
 * names its cipher ("none" when plain), PEM says Proc-Type ENCRYPTED or BEGIN ENCRYPTED PRIVATE
 * KEY, PuTTY's files an Encryption line. Unknown formats count as plain (the login reports).
 */
export function keyNeedsPassphrase(text: string): boolean {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----/.test(text) || /^Proc-Type:\s*4,ENCRYPTED/m.test(text)) return true;
  const putty = /^Encryption:\s*(\S+)/m.exec(text);
  if (putty) return putty[1] !== 'none';
  const m = /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(text);
  if (!m) return false;
  const raw = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  const magic = 'openssh-key-v1\0';
  if (raw.subarray(0, magic.length).toString('latin1') !== magic) return false;
  const len = raw.readUInt32BE(magic.length);
  return raw.subarray(magic.length + 4, magic.length + 4 + len).toString('latin1') !== 'none';
}
