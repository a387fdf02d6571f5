// The backup file: a short plain header, then one AES-256-GCM stream, then its 16-byte
// authentication tag. The key comes from the admin's passphrase through scrypt; the
// header (format, KDF parameters, IV) is authenticated as additional data, so neither it
// nor a byte of the content can be changed without the restore noticing.
//
//   HERMES-BACKUP\n
//   {"format":1,"kdf":{...},"iv":"..."}\n
//   ciphertext of: frame*          frame = uint32 BE length, JSON entry, [file bytes]
//   tag (16 bytes)
import { createCipheriv, createDecipheriv, createHash, randomBytes, scryptSync, type CipherGCM, type DecipherGCM } from 'node:crypto';

export const MAGIC = 'HERMES-BACKUP\n';
export const TAG_BYTES = 16;
const FORMAT = 1;

export interface BackupHeader {
  format: number;
  kdf: { name: 'scrypt'; N: number; r: number; p: number; salt: string };
  cipher: 'aes-256-gcm';
  iv: string;
  /** Tells a wrong passphrase at once: a hash of key material that is not the cipher key. */
  check: string;
}

/** What the encrypted stream holds: files, then one end entry with the totals. */
export type BackupEntry =
  | { t: 'file'; root: BackupRoot; path: string; size: number; mode: number }
  | { t: 'end'; files: number; bytes: number; createdAt: string; hermesVersion: string; schemaVersion: number; hostname: string };

/** Where a file belongs in a data directory (restore puts each root at its default place). */
export type BackupRoot = 'config' | 'database' | 'keys' | 'tls' | 'spool' | 'data' | 'archive';

export const MIN_PASSPHRASE_LENGTH = 12;

export function newHeader(): BackupHeader {
  return {
    format: FORMAT,
    // 32 MiB of memory per derivation: slow enough against guessing, fine for a CLI.
    kdf: { name: 'scrypt', N: 2 ** 15, r: 8, p: 1, salt: randomBytes(16).toString('base64') },
    cipher: 'aes-256-gcm',
    iv: randomBytes(12).toString('base64'),
    check: '',
  };
}

export function encodeHeader(h: BackupHeader): Buffer {
  return Buffer.from(`${MAGIC}${JSON.stringify(h)}\n`);
}

/** Reads the header from the start of a file; returns it and its length in bytes. */
export function decodeHeader(start: Buffer): { header: BackupHeader; length: number } {
  if (start.subarray(0, MAGIC.length).toString('latin1') !== MAGIC) throw new Error('not a Hermes backup file (no HERMES-BACKUP header)');
  const end = start.indexOf(0x0a, MAGIC.length);
  if (end < 0) throw new Error('the backup header is cut off');
  let header: BackupHeader;
  try {
    header = JSON.parse(start.subarray(MAGIC.length, end).toString('utf8')) as BackupHeader;
  } catch {
    throw new Error('the backup header is not valid JSON');
  }
  if (header.format !== FORMAT) throw new Error(`backup format ${header.format} is not supported by this version (it reads format ${FORMAT})`);
  if (header.kdf?.name !== 'scrypt' || header.cipher !== 'aes-256-gcm') throw new Error('the backup uses an unknown key derivation or cipher');
  return { header, length: end + 1 };
}

/** 64 bytes from scrypt: the cipher key, then the material the check value is made of. */
function keysOf(h: BackupHeader, passphrase: string): { key: Buffer; check: string } {
  const { N, r, p, salt } = h.kdf;
  const out = scryptSync(passphrase.normalize('NFC'), Buffer.from(salt, 'base64'), 64, { N, r, p, maxmem: 256 * N * r });
  return { key: out.subarray(0, 32), check: createHash('sha256').update(out.subarray(32)).digest('base64').slice(0, 22) };
}

/** Fills in the header's check value and returns the cipher (call before encodeHeader). */
export function encryptor(h: BackupHeader, passphrase: string): CipherGCM {
  const { key, check } = keysOf(h, passphrase);
  h.check = check;
  const c = createCipheriv('aes-256-gcm', key, Buffer.from(h.iv, 'base64'));
  c.setAAD(encodeHeader(h));
  return c;
}

export class WrongPassphrase extends Error {}

export function decryptor(h: BackupHeader, passphrase: string, tag: Buffer): DecipherGCM {
  const { key, check } = keysOf(h, passphrase);
  if (check !== h.check) throw new WrongPassphrase('wrong passphrase: nothing restored');
  const d = createDecipheriv('aes-256-gcm', key, Buffer.from(h.iv, 'base64'));
  d.setAAD(encodeHeader(h));
  d.setAuthTag(tag);
  return d;
}

export function frame(entry: BackupEntry): Buffer {
  const json = Buffer.from(JSON.stringify(entry));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  return Buffer.concat([len, json]);
}

/**
 * Pulls exact byte counts out of a stream of chunks (the decrypted content), so frames
 * and file bodies can be read in order without holding the whole backup in memory.
 */
export class ByteReader {
  #chunks: Buffer[] = [];
  #buffered = 0;
  readonly #source: AsyncIterator<Buffer>;
  #ended = false;

  constructor(source: AsyncIterable<Buffer>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  async #fill(n: number): Promise<void> {
    while (this.#buffered < n && !this.#ended) {
      const next = await this.#source.next();
      if (next.done) this.#ended = true;
      else {
        this.#chunks.push(next.value);
        this.#buffered += next.value.length;
      }
    }
  }

  /** Exactly n bytes; throws if the stream ends first. */
  async read(n: number): Promise<Buffer> {
    await this.#fill(n);
    if (this.#buffered < n) throw new Error('the backup ends in the middle of an entry (cut off?)');
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const out = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#chunks = rest.length ? [rest] : [];
    this.#buffered = rest.length;
    return out;
  }

  /** Up to max bytes (at least 1 unless the stream has ended). */
  async readSome(max: number): Promise<Buffer> {
    await this.#fill(1);
    return this.read(Math.min(max, this.#buffered));
  }

  async entry(): Promise<BackupEntry> {
    const len = (await this.read(4)).readUInt32BE(0);
    if (len > 1 << 20) throw new Error('damaged backup: an entry header is impossibly long');
    return JSON.parse((await this.read(len)).toString('utf8')) as BackupEntry;
  }
}
