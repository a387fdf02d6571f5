// One file per message in the spool: a header line, the envelope as JSON, then the
// message bytes exactly as they will be sent. The file is the record of truth (as a
// Postfix queue file is): it is fsync'd before we answer 250, and on start any file the
// database index does not know is indexed again from its envelope. So a crash at any
// instant loses nothing that was acknowledged.
import { open, readFile, unlink, mkdir, readdir } from 'node:fs/promises';
import { createReadStream, type ReadStream } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Db } from '../db/database.ts';
import type { MessageDirection } from '../db/schema.ts';

const MAGIC = 'HSPOOL1';
const SUBDIRS = '0123456789ABCDEF'.split('');

export interface SpoolEnvelope {
  id: string;
  receivedAt: number;
  node: number;
  direction: MessageDirection;
  mailFrom: string;
  recipients: Array<{ address: string; route: string; requireTls: boolean }>;
  clientIp: string | null;
  clientHelo: string | null;
  clientPtr: string | null;
  tls: string | null;
  messageId: string | null;
  subject: string | null;
  parentId: string | null;
  /** Message length, written by Spool.write: a shorter file was cut off by a crash. */
  size?: number;
}

export class TruncatedSpoolFile extends Error {}

/** What write() did: the file name, and for a database spool the write to commit with the index rows. */
export interface SpoolWrite {
  file: string;
  dataOffset: number;
  /** Present when the bytes are not durable yet: run it in the index rows' transaction. */
  commit?: (db: Db) => Promise<void>;
}

/** A spool file's bytes: header line, envelope JSON (with the message size), message. */
export function encodeSpoolFile(env: SpoolEnvelope, message: Buffer[]): { bytes: Buffer; parts: Buffer[]; dataOffset: number } {
  const size = message.reduce((n, b) => n + b.length, 0);
  const json = Buffer.from(JSON.stringify({ ...env, size }));
  const head = Buffer.from(`${MAGIC} ${json.length}\n`);
  const parts = [head, json, Buffer.from('\n'), ...message];
  return { bytes: Buffer.concat(parts), parts, dataOffset: head.length + json.length + 1 };
}

/**
 * Layout: <dir>/<node>/<last hex digit of the id>/<id>. Each gateway worker ("node")
 * writes only below its own number, so recovery after a crash knows whose files are whose.
 */
export class Spool {
  constructor(
    readonly dir: string,
    readonly node = 0,
  ) {}

  async init(): Promise<void> {
    await Promise.all(SUBDIRS.map((d) => mkdir(join(this.dir, String(this.node), d), { recursive: true, mode: 0o750 })));
  }

  /** File name of a message relative to the spool root, as stored in the index. */
  fileFor(id: string): string {
    return join(String(this.node), id.slice(-1), id);
  }

  path(file: string): string {
    return join(this.dir, file);
  }

  /**
   * Writes envelope and message and fsyncs the file. The directory entry is made durable
   * by a DirSync of dirOf(file), shared by the messages finishing together.
   */
  async write(env: SpoolEnvelope, message: Buffer[]): Promise<SpoolWrite> {
    const file = this.fileFor(env.id);
    const size = message.reduce((n, b) => n + b.length, 0);
    const json = Buffer.from(JSON.stringify({ ...env, size }));
    const head = Buffer.from(`${MAGIC} ${json.length}\n`);
    const fh = await open(this.path(file), 'wx', 0o640);
    try {
      await fh.writev([head, json, Buffer.from('\n'), ...message]);
      await fh.datasync();
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(this.path(file)).catch(() => {});
      throw err;
    }
    await fh.close();
    return { file, dataOffset: head.length + json.length + 1 };
  }

  /** The directory a spool file lives in (for DirSync). */
  dirOf(file: string): string {
    return dirname(join(this.dir, file));
  }

  async read(file: string): Promise<{ envelope: SpoolEnvelope; message: Buffer }> {
    const buf = await readFile(this.path(file));
    return parseSpoolFile(buf, file);
  }

  async readMessage(file: string): Promise<Buffer> {
    return (await this.read(file)).message;
  }

  /** A stream of the message bytes only (for large messages). */
  async openMessageStream(file: string): Promise<ReadStream> {
    const fh = await open(this.path(file), 'r');
    const head = Buffer.alloc(64);
    await fh.read(head, 0, 64, 0);
    await fh.close();
    const nl = head.indexOf(10);
    const len = Number(head.subarray(MAGIC.length + 1, nl).toString());
    return createReadStream(this.path(file), { start: nl + 1 + len + 1 });
  }

  async remove(file: string): Promise<void> {
    await unlink(this.path(file)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  /** The node numbers that have spool directories (current and earlier workers). */
  async nodes(): Promise<number[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    return names.filter((n) => /^\d+$/.test(n)).map(Number);
  }

  /** Every spool file name (relative to the root) of the given nodes, for recovery. */
  async list(nodes: number[] = [this.node]): Promise<string[]> {
    const out: string[] = [];
    for (const n of nodes) {
      for (const d of SUBDIRS) {
        for (const f of await readdir(join(this.dir, String(n), d)).catch(() => [] as string[])) out.push(join(String(n), d, f));
      }
    }
    return out;
  }
}

export function parseSpoolFile(buf: Buffer, name: string): { envelope: SpoolEnvelope; message: Buffer } {
  const nl = buf.indexOf(10);
  // Empty, or cut off inside its header line: created, never fsync'd to the end.
  if (nl < 0 && MAGIC.startsWith(buf.subarray(0, MAGIC.length).toString('latin1'))) {
    throw new TruncatedSpoolFile(`spool file ${name} is truncated (${buf.length} bytes, no complete header)`);
  }
  const head = nl > 0 ? buf.subarray(0, nl).toString() : '';
  const m = /^HSPOOL1 (\d+)$/.exec(head);
  if (!m) throw new Error(`spool file ${name} is damaged (bad header)`);
  const len = Number(m[1]);
  const envelope = JSON.parse(buf.subarray(nl + 1, nl + 1 + len).toString()) as SpoolEnvelope;
  const message = buf.subarray(nl + 1 + len + 1);
  if (envelope.size !== undefined && message.length !== envelope.size) {
    throw new TruncatedSpoolFile(`spool file ${name} is truncated (${message.length} of ${envelope.size} bytes)`);
  }
  return { envelope, message };
}
