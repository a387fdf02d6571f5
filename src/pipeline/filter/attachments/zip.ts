// A small zip reader for looking inside attachments: names of members, and the bytes
// of stored or deflated members. It reads hostile input, so every size it is told is
// checked against the buffer, inflation is capped (a zip bomb stops at the cap, it is
// never expanded), and a damaged archive gives what could be read plus a note, never
// an exception. Zip64 and archives glued behind a program (self-extractors) are read;
// encrypted members are named but not opened.
import { inflateRaw } from 'node:zlib';
import { promisify } from 'node:util';

const inflateRawAsync = promisify(inflateRaw);

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;

export interface ZipEntry {
  /** Path inside the archive, "/" separated. */
  name: string;
  isDirectory: boolean;
  encrypted: boolean;
  /** 0 stored, 8 deflated; anything else cannot be read here. */
  method: number;
  compressedSize: number;
  /** Uncompressed size as the archive claims it (not trusted). */
  size: number;
  /** Where the member's local header starts. */
  localOffset: number;
}

export interface ZipListing {
  entries: ZipEntry[];
  /** The central directory was missing or damaged: entries come from a scan of local headers. */
  corrupt: boolean;
  /** More entries than the limit: the rest were not listed. */
  truncated: boolean;
}

export type ZipReadFailure = 'encrypted' | 'unsupported' | 'too-large' | 'corrupt';

/** Shared across one message: how many more bytes all members together may inflate to. */
export interface InflateBudget {
  remaining: number;
}

const u16 = (b: Buffer, o: number) => (o + 2 <= b.length ? b.readUInt16LE(o) : -1);
const u32 = (b: Buffer, o: number) => (o + 4 <= b.length ? b.readUInt32LE(o) : -1);
const u64 = (b: Buffer, o: number) => (o + 8 <= b.length ? Number(b.readBigUInt64LE(o)) : -1);

/** Lists the members of a zip archive (at most `maxEntries`); null when `buf` is not a zip at all. */
export function listZip(buf: Buffer, maxEntries = 5000): ZipListing | null {
  const fromDirectory = readCentralDirectory(buf, maxEntries);
  // An empty directory in front of real members hides them from some tools, not all.
  if (fromDirectory && (fromDirectory.entries.length > 0 || u32(buf, 0) !== SIG_LOCAL)) return withLocalNames(buf, fromDirectory);
  const scanned = scanLocalHeaders(buf, maxEntries);
  return scanned.entries.length ? scanned : null;
}

/**
 * Zip tools disagree on which name counts when the directory and the member's own
 * header differ (Windows reads the directory, others the header): a crafted archive
 * shows "report.txt" to one and extracts "report.exe" with another. Both names are
 * listed then, and the archive is marked damaged.
 */
function withLocalNames(buf: Buffer, listing: ZipListing): ZipListing {
  const extra: ZipEntry[] = [];
  for (const e of listing.entries) {
    const p = e.localOffset;
    if (u32(buf, p) !== SIG_LOCAL) continue;
    const nameLen = u16(buf, p + 26);
    if (nameLen <= 0 || p + 30 + nameLen > buf.length) continue;
    const local = decodeName(buf.subarray(p + 30, p + 30 + nameLen), u16(buf, p + 6));
    if (local !== e.name) extra.push({ ...e, name: local, isDirectory: local.endsWith('/') });
  }
  return extra.length ? { entries: [...listing.entries, ...extra], corrupt: true, truncated: listing.truncated } : listing;
}

function findEocd(buf: Buffer): number {
  // The end record is 22 bytes plus a comment of up to 64 KiB, at the very end.
  const stop = Math.max(0, buf.length - 22 - 0xffff);
  for (let i = buf.length - 22; i >= stop; i--) {
    if (buf[i] === 0x50 && buf[i + 1] === 0x4b && u32(buf, i) === SIG_EOCD) return i;
  }
  return -1;
}

function readCentralDirectory(buf: Buffer, maxEntries: number): ZipListing | null {
  const eocd = findEocd(buf);
  if (eocd < 0) return null;
  let total = u16(buf, eocd + 10);
  let cdSize = u32(buf, eocd + 12);
  let cdOffset = u32(buf, eocd + 16);
  if (total === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const loc = eocd - 20;
    if (loc >= 0 && u32(buf, loc) === SIG_ZIP64_LOCATOR) {
      const z = u64(buf, loc + 8);
      if (z >= 0 && u32(buf, z) === SIG_ZIP64_EOCD) {
        total = u64(buf, z + 32);
        cdSize = u64(buf, z + 40);
        cdOffset = u64(buf, z + 48);
      }
    }
  }
  // Data in front of the archive (a self-extractor's program) shifts every offset by
  // the same amount: where the directory really ends minus where it says it starts.
  let shift = 0;
  if (u32(buf, cdOffset) !== SIG_CENTRAL && total > 0) {
    shift = eocd - cdSize - cdOffset;
    if (shift < 0 || u32(buf, cdOffset + shift) !== SIG_CENTRAL) return null;
  }
  const entries: ZipEntry[] = [];
  let p = cdOffset + shift;
  let corrupt = false;
  for (let n = 0; n < total; n++) {
    if (entries.length >= maxEntries) return { entries, corrupt, truncated: true };
    if (u32(buf, p) !== SIG_CENTRAL) {
      corrupt = true;
      break;
    }
    const flags = u16(buf, p + 8);
    const nameLen = u16(buf, p + 28);
    const extraLen = u16(buf, p + 30);
    const commentLen = u16(buf, p + 32);
    if (p + 46 + nameLen > buf.length) {
      corrupt = true;
      break;
    }
    const name = decodeName(buf.subarray(p + 46, p + 46 + nameLen), flags);
    let compressedSize = u32(buf, p + 20);
    let size = u32(buf, p + 24);
    let localOffset = u32(buf, p + 42);
    ({ size, compressedSize, localOffset } = zip64Extra(buf.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen), size, compressedSize, localOffset));
    entries.push({
      name,
      isDirectory: name.endsWith('/'),
      encrypted: (flags & 1) === 1,
      method: u16(buf, p + 10),
      compressedSize,
      size,
      localOffset: localOffset + shift,
    });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return { entries, corrupt, truncated: false };
}

/** Sizes and offset that did not fit 32 bits are in the zip64 extra field, in this order. */
function zip64Extra(extra: Buffer, size: number, compressedSize: number, localOffset: number) {
  for (let i = 0; i + 4 <= extra.length; ) {
    const id = u16(extra, i);
    const len = u16(extra, i + 2);
    if (id === 0x0001) {
      let q = i + 4;
      const next = () => {
        const v = q + 8 <= i + 4 + len ? u64(extra, q) : -1;
        q += 8;
        return v;
      };
      if (size === 0xffffffff) size = next();
      if (compressedSize === 0xffffffff) compressedSize = next();
      if (localOffset === 0xffffffff) localOffset = next();
      break;
    }
    i += 4 + len;
  }
  return { size, compressedSize, localOffset };
}

/** Without a usable directory, members are found by their local headers (names at least). */
function scanLocalHeaders(buf: Buffer, maxEntries: number): ZipListing {
  const entries: ZipEntry[] = [];
  for (let p = buf.indexOf('PK\x03\x04', 0, 'latin1'); p >= 0; p = buf.indexOf('PK\x03\x04', p + 4, 'latin1')) {
    if (entries.length >= maxEntries) return { entries, corrupt: true, truncated: true };
    const flags = u16(buf, p + 6);
    const nameLen = u16(buf, p + 26);
    if (nameLen <= 0 || p + 30 + nameLen > buf.length) continue;
    const name = decodeName(buf.subarray(p + 30, p + 30 + nameLen), flags);
    // Bit 3: sizes follow the data instead; unknown here (-1 = read to the end, capped).
    const sizesLater = (flags & 8) === 8;
    entries.push({
      name,
      isDirectory: name.endsWith('/'),
      encrypted: (flags & 1) === 1,
      method: u16(buf, p + 8),
      compressedSize: sizesLater ? -1 : u32(buf, p + 18),
      size: sizesLater ? -1 : u32(buf, p + 22),
      localOffset: p,
    });
  }
  return { entries, corrupt: true, truncated: false };
}

function decodeName(bytes: Buffer, flags: number): string {
  // Bit 11 marks UTF-8 names; older archives use the DOS code page, read here as latin1
  // (the same for the ASCII that extensions are made of).
  return bytes.toString((flags & 0x800) !== 0 ? 'utf8' : 'latin1');
}

function dataStart(buf: Buffer, entry: ZipEntry): number {
  const p = entry.localOffset;
  if (u32(buf, p) !== SIG_LOCAL) return -1;
  const nameLen = u16(buf, p + 26);
  const extraLen = u16(buf, p + 28);
  const start = p + 30 + nameLen + extraLen;
  return start <= buf.length ? start : -1;
}

/**
 * The bytes of one member, at most `maxBytes` and within `budget`; or why not. A member
 * that would inflate beyond the cap is refused as 'too-large' once the cap is reached.
 */
export async function readZipEntry(
  buf: Buffer,
  entry: ZipEntry,
  maxBytes: number,
  budget: InflateBudget,
): Promise<Buffer | ZipReadFailure> {
  if (entry.encrypted || entry.method === 99) return 'encrypted';
  if (entry.method !== 0 && entry.method !== 8) return 'unsupported';
  const cap = Math.min(maxBytes, budget.remaining);
  if (entry.size > cap) return 'too-large';
  const start = dataStart(buf, entry);
  if (start < 0) return 'corrupt';
  const end = entry.compressedSize >= 0 ? start + entry.compressedSize : buf.length;
  if (end > buf.length) return 'corrupt';
  const raw = buf.subarray(start, end);
  let out: Buffer;
  if (entry.method === 0) {
    if (entry.compressedSize < 0) return 'corrupt';
    if (raw.length > cap) return 'too-large';
    out = raw;
  } else {
    try {
      out = await inflateRawAsync(raw, { maxOutputLength: Math.max(1, cap) });
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? 'too-large' : 'corrupt';
    }
  }
  budget.remaining -= out.length;
  return out;
}
