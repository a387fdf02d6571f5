// The spool in the database: what Spool writes to a file (header, envelope, message) is
// stored as rows of message_bytes instead, committed with the message's index rows in the
// index writer's batch, so the 250 still waits for one durable commit holding both. Every
// node sharing the database reads it, so any node can deliver any message. There is
// nothing to reconcile after a crash: bytes and index commit together or not at all.
import type { ReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import type { Db } from '../db/database.ts';
import { deleteMessageBytes, insertMessageBytes, readMessageBytes } from '../db/repos/message-bytes.ts';
import { encodeSpoolFile, parseSpoolFile, Spool, type SpoolEnvelope, type SpoolWrite } from './spool-file.ts';

/** Spool file names of messages stored in the database. */
export const DB_SPOOL_PREFIX = 'db:';

export function isDbSpoolFile(file: string): boolean {
  return file.startsWith(DB_SPOOL_PREFIX);
}

export class DbSpool extends Spool {
  constructor(
    private readonly db: Db,
    node = 0,
  ) {
    super('', node);
  }

  override async init(): Promise<void> {}

  override fileFor(id: string): string {
    return `${DB_SPOOL_PREFIX}${id}`;
  }

  override path(file: string): string {
    return file;
  }

  /** Nothing is written yet: `commit` stores the bytes inside the index writer's transaction. */
  override async write(env: SpoolEnvelope, message: Buffer[]): Promise<SpoolWrite> {
    const { bytes, dataOffset } = encodeSpoolFile(env, message);
    return { file: this.fileFor(env.id), dataOffset, commit: (trx) => insertMessageBytes(trx, env.id, bytes) };
  }

  override async read(file: string): Promise<{ envelope: SpoolEnvelope; message: Buffer }> {
    const bytes = await readMessageBytes(this.db, idOf(file));
    if (!bytes) throw Object.assign(new Error(`message ${idOf(file)} has no stored bytes`), { code: 'ENOENT' });
    return parseSpoolFile(bytes, file);
  }

  override async openMessageStream(file: string): Promise<ReadStream> {
    return Readable.from([(await this.read(file)).message]) as unknown as ReadStream;
  }

  override async remove(file: string): Promise<void> {
    await deleteMessageBytes(this.db, idOf(file));
  }

  override async nodes(): Promise<number[]> {
    return [];
  }

  override async list(): Promise<string[]> {
    return [];
  }
}

function idOf(file: string): string {
  return isDbSpoolFile(file) ? file.slice(DB_SPOOL_PREFIX.length) : file;
}
