/**
 * Just enough FAT (12/16/32) to answer "is \EFI\BOOT\BOOTX64.EFI on this EFI system partition?"
 * over iSCSI reads: the BIOS parameter block, the FAT chain, directories with long names.
 * Microsoft's "FAT: General Overview of On-Disk Format" (fatgen103) for every rule cited below.
 * Everything the disk says is bounded: a chain or a directory cannot make us read without end.
 */

/** Reads `length` bytes at byte `offset` of the partition. */
export type ReadBytes = (offset: number, length: number) => Promise<Buffer>;

export interface FatLookup {
  fsType?: 'FAT12' | 'FAT16' | 'FAT32' | undefined;
  found: boolean;
  /** The file's size in bytes when found. */
  size?: number | undefined;
  /** Why not, in words: not a FAT file system, a folder missing, ... */
  why?: string | undefined;
}

/** Longest directory we read (a real ESP's are a few KiB). */
const MAX_DIR_BYTES = 1 << 20;
/** Most path components we follow. */
const MAX_DEPTH = 16;

interface Fat {
  type: 'FAT12' | 'FAT16' | 'FAT32';
  bytesPerSector: number;
  clusterBytes: number;
  fatOffset: number;
  rootOffset: number;
  rootBytes: number;
  rootCluster: number;
  dataOffset: number;
  clusters: number;
}

/** Reads the BIOS parameter block (fatgen103 §3); undefined when it is not FAT. */
function parseBpb(b: Buffer): Fat | string {
  if (b.length < 512 || b[510] !== 0x55 || b[511] !== 0xaa) return 'no boot sector signature (0x55AA) at the start of the partition';
  const bytesPerSector = b.readUInt16LE(11);
  const secPerClus = b[13]!;
  const rsvd = b.readUInt16LE(14);
  const numFats = b[16]!;
  const rootEntCnt = b.readUInt16LE(17);
  const totSec = b.readUInt16LE(19) || b.readUInt32LE(32);
  const fatSz = b.readUInt16LE(22) || b.readUInt32LE(36);
  if (![512, 1024, 2048, 4096].includes(bytesPerSector) || secPerClus === 0 || (secPerClus & (secPerClus - 1)) !== 0 || rsvd === 0 || numFats === 0 || fatSz === 0 || totSec === 0) {
    return 'the partition does not hold a FAT file system (its BIOS parameter block is not valid)';
  }
  const rootDirSectors = Math.ceil((rootEntCnt * 32) / bytesPerSector);
  const firstData = rsvd + numFats * fatSz + rootDirSectors;
  if (firstData >= totSec) return 'the FAT file system is smaller than its own tables';
  const clusters = Math.floor((totSec - firstData) / secPerClus);
  // The type is decided by the cluster count alone (fatgen103 §3.5), never by the label text.
  const type = clusters < 4085 ? 'FAT12' : clusters < 65525 ? 'FAT16' : 'FAT32';
  return {
    type,
    bytesPerSector,
    clusterBytes: secPerClus * bytesPerSector,
    fatOffset: rsvd * bytesPerSector,
    rootOffset: (rsvd + numFats * fatSz) * bytesPerSector,
    rootBytes: rootDirSectors * bytesPerSector,
    rootCluster: type === 'FAT32' ? b.readUInt32LE(44) : 0,
    dataOffset: firstData * bytesPerSector,
    clusters,
  };
}

/** The next cluster after `n`, or undefined at the end of the chain (fatgen103 §4). */
async function nextCluster(fat: Fat, read: ReadBytes, n: number): Promise<number | undefined> {
  if (fat.type === 'FAT12') {
    const off = n + (n >> 1);
    const v = (await read(fat.fatOffset + off, 2)).readUInt16LE(0);
    const e = n & 1 ? v >> 4 : v & 0xfff;
    return e >= 0xff8 || e < 2 ? undefined : e;
  }
  if (fat.type === 'FAT16') {
    const e = (await read(fat.fatOffset + n * 2, 2)).readUInt16LE(0);
    return e >= 0xfff8 || e < 2 ? undefined : e;
  }
  const e = (await read(fat.fatOffset + n * 4, 4)).readUInt32LE(0) & 0x0fffffff;
  return e >= 0x0ffffff8 || e < 2 ? undefined : e;
}

/** A directory's bytes: the fixed FAT12/16 root, or a cluster chain (bounded). */
async function readDir(fat: Fat, read: ReadBytes, cluster: number): Promise<Buffer> {
  if (cluster === 0) return read(fat.rootOffset, Math.min(fat.rootBytes, MAX_DIR_BYTES));
  const parts: Buffer[] = [];
  let total = 0;
  const seen = new Set<number>();
  for (let c: number | undefined = cluster; c !== undefined; c = await nextCluster(fat, read, c)) {
    if (c < 2 || c >= fat.clusters + 2 || seen.has(c)) break; // out of range or a loop: stop there
    seen.add(c);
    parts.push(await read(fat.dataOffset + (c - 2) * fat.clusterBytes, fat.clusterBytes));
    total += fat.clusterBytes;
    if (total >= MAX_DIR_BYTES) break;
  }
  return Buffer.concat(parts);
}

interface DirEntry {
  name: string;
  shortName: string;
  dir: boolean;
  cluster: number;
  size: number;
}

/** Entries of a directory with their long names (fatgen103 §6, §7). */
export function parseDir(buf: Buffer): DirEntry[] {
  const out: DirEntry[] = [];
  let lfn: string[] = [];
  for (let off = 0; off + 32 <= buf.length; off += 32) {
    const e = buf.subarray(off, off + 32);
    if (e[0] === 0) break;
    if (e[0] === 0xe5) {
      lfn = [];
      continue;
    }
    const attr = e[11]!;
    if ((attr & 0x3f) === 0x0f) {
      // A long-name piece: 13 UCS-2 characters, pieces stored last first.
      const chars = Buffer.concat([e.subarray(1, 11), e.subarray(14, 26), e.subarray(28, 32)]);
      let s = '';
      for (let i = 0; i + 1 < chars.length; i += 2) {
        const c = chars.readUInt16LE(i);
        if (c === 0 || c === 0xffff) break;
        s += String.fromCharCode(c);
      }
      if (e[0]! & 0x40) lfn = [];
      lfn.unshift(s);
      continue;
    }
    if (attr & 0x08) {
      lfn = []; // the volume label
      continue;
    }
    const base = e.subarray(0, 8).toString('latin1').trimEnd();
    const ext = e.subarray(8, 11).toString('latin1').trimEnd();
    const shortName = (base[0] === '\x05' ? '\xe5' + base.slice(1) : base) + (ext ? `.${ext}` : '');
    out.push({ name: lfn.length > 0 ? lfn.join('') : shortName, shortName, dir: (attr & 0x10) !== 0, cluster: (e.readUInt16LE(20) << 16) | e.readUInt16LE(26), size: e.readUInt32LE(28) });
    lfn = [];
  }
  return out;
}

/**
 * Looks a file up by a path like \EFI\BOOT\BOOTX64.EFI (either slash, case-insensitive as FAT
 * is) on the FAT file system at the start of `read`.
 */
export async function findFatFile(read: ReadBytes, filePath: string): Promise<FatLookup> {
  const bpb = parseBpb(await read(0, 512));
  if (typeof bpb === 'string') return { found: false, why: bpb };
  const parts = filePath.split(/[\\/]+/).filter(Boolean);
  if (parts.length === 0 || parts.length > MAX_DEPTH) return { fsType: bpb.type, found: false, why: `"${filePath}" is not a file path` };
  let cluster = bpb.type === 'FAT32' ? bpb.rootCluster : 0;
  for (let i = 0; i < parts.length; i++) {
    const want = parts[i]!.toUpperCase();
    const entries = parseDir(await readDir(bpb, read, cluster));
    const hit = entries.find((e) => e.name.toUpperCase() === want || e.shortName.toUpperCase() === want);
    const where = i === 0 ? 'the root folder' : `\\${parts.slice(0, i).join('\\')}`;
    if (!hit) return { fsType: bpb.type, found: false, why: `${where} has no ${parts[i]}` };
    const last = i === parts.length - 1;
    if (last) return hit.dir ? { fsType: bpb.type, found: false, why: `\\${parts.join('\\')} is a folder, not a file` } : { fsType: bpb.type, found: true, size: hit.size };
    if (!hit.dir) return { fsType: bpb.type, found: false, why: `\\${parts.slice(0, i + 1).join('\\')} is a file, not a folder` };
    cluster = hit.cluster;
    if (cluster === 0 && bpb.type === 'FAT32') cluster = bpb.rootCluster; // ".." to the root (fatgen103 §6)
  }
  return { fsType: bpb.type, found: false };
}
