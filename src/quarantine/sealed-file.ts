// The on-disk form of one quarantined message: compressed (brotli), then sealed with the
// install's master key (AES-256-GCM, bound to the quarantine id), written and fsync'd.
// The metadata travels inside the seal too, so the file alone is enough to rebuild its
// index row, and nothing about the message (not even its sender) is readable on disk.
import { brotliCompress, brotliDecompress, constants as zc } from 'node:zlib';
import { promisify } from 'node:util';
import { open, readFile } from 'node:fs/promises';
import type { MasterKey } from '../keys/master-key.ts';

const compress = promisify(brotliCompress);
const decompress = promisify(brotliDecompress);

/** Plain-text magic so a file is recognisable; everything after it is sealed. */
const MAGIC = Buffer.from('HERMESQ1');

/** Associated data: a sealed file cannot be passed off as another quarantine entry. */
const aad = (id: string) => `hermes-quarantine:${id}`;

export async function sealMessage(key: MasterKey, id: string, meta: object, message: readonly Buffer[]): Promise<Buffer> {
  const json = Buffer.from(JSON.stringify(meta));
  const len = Buffer.alloc(4);
  len.writeUInt32BE(json.length);
  // Quality 5: most of brotli's gain on mail text at a small fraction of the CPU of 11.
  const packed = await compress(Buffer.concat([len, json, ...message]), { params: { [zc.BROTLI_PARAM_QUALITY]: 5 } });
  return Buffer.concat([MAGIC, key.encrypt(packed, aad(id))]);
}

export async function openSealed<M>(key: MasterKey, id: string, sealed: Buffer): Promise<{ meta: M; message: Buffer }> {
  if (!sealed.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error(`quarantine file of ${id} is not a Hermes quarantine file`);
  let plain: Buffer;
  try {
    plain = await decompress(key.decrypt(sealed.subarray(MAGIC.length), aad(id)));
  } catch (err) {
    throw new Error(`quarantine file of ${id} cannot be opened (damaged, or sealed with another master key): ${(err as Error).message}`);
  }
  const len = plain.readUInt32BE(0);
  return { meta: JSON.parse(plain.subarray(4, 4 + len).toString()) as M, message: plain.subarray(4 + len) };
}

/** Creates the file (never overwrites) and fsyncs its data; the caller syncs the directory. */
export async function writeDurably(path: string, data: Buffer): Promise<void> {
  const fh = await open(path, 'wx', 0o640);
  try {
    await fh.writeFile(data);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

export async function readSealedFile(path: string): Promise<Buffer> {
  return readFile(path);
}
