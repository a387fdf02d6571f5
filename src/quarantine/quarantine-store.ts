// The quarantine store: held messages as sealed files under <data>/quarantine, with an
// index row each. hold() returns only once the file and its directory entry are on disk
// and the row is committed, so the SMTP reply that follows can promise the message is
// kept. The master key is loaded on first use (an install that never quarantines never
// needs it).
import { mkdir, readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Db } from '../db/database.ts';
import type { MessageDirection, QuarantineTable } from '../db/schema.ts';
import { getQuarantine, insertQuarantine, type QuarantineEntry } from '../db/repos/quarantine.ts';
import { loadMasterKey, type MasterKey } from '../keys/master-key.ts';
import { decodeEncodedWords, getHeader, headerBlock, traceHeaders } from '../pipeline/headers.ts';
import { DirSync } from '../spool/dir-sync.ts';
import { newQueueId } from '../spool/queue-id.ts';
import { openSealed, readSealedFile, sealMessage, writeDurably } from './sealed-file.ts';
import type { QuarantineHold, QuarantineSink } from './types.ts';

export interface QuarantineStoreOptions {
  db: Db;
  /** The quarantine directory: <storage.data>/quarantine. */
  dir: string;
  masterKeyFile: string;
}

/** What is sealed in the file beside the message (enough to rebuild the index row). */
export interface SealedMeta {
  id: string;
  messageId: string;
  receivedAt: number;
  heldAt: number;
  direction: MessageDirection;
  mailFrom: string;
  recipients: string[];
  category: string;
  score: number | null;
  symbols: QuarantineHold['symbols'];
  reason: string;
}

/** A held message's index row: its sealed metadata, and what its header section says. */
function indexRow(meta: SealedMeta, head: Buffer, o: { size: number; file: string; updatedAt: number }): QuarantineTable {
  const { subject, messageId } = traceHeaders(head);
  const from = getHeader(headerBlock(head), 'From');
  return {
    id: meta.id,
    message_id: meta.messageId,
    received_at: meta.receivedAt,
    held_at: meta.heldAt,
    direction: meta.direction,
    mail_from: meta.mailFrom,
    header_from: from === null ? null : decodeEncodedWords(Buffer.from(from, 'latin1').toString('utf8')).slice(0, 500),
    subject,
    message_id_header: messageId,
    category: meta.category,
    score: meta.score,
    symbols: JSON.stringify(meta.symbols),
    reason: meta.reason,
    size: o.size,
    file: o.file,
    state: 'held',
    updated_at: o.updatedAt,
  };
}

export function quarantineDir(dataDir: string): string {
  return join(dataDir, 'quarantine');
}

export class QuarantineStore implements QuarantineSink {
  readonly #dirSync = new DirSync();
  #key: MasterKey | null = null;

  constructor(private readonly o: QuarantineStoreOptions) {}

  get db(): Db {
    return this.o.db;
  }

  #masterKey(): MasterKey {
    if (!this.#key) {
      try {
        this.#key = loadMasterKey(this.o.masterKeyFile);
      } catch (err) {
        throw new Error(`cannot load the master key ${this.o.masterKeyFile} for the quarantine: ${(err as Error).message}`);
      }
    }
    return this.#key;
  }

  path(file: string): string {
    return join(this.o.dir, file);
  }

  async hold(h: QuarantineHold): Promise<string> {
    if (!h.recipients.length) throw new Error('a quarantine hold needs at least one recipient');
    const key = this.#masterKey();
    const id = newQueueId();
    const heldAt = Date.now();
    const file = join(id.slice(-1), id);
    const full = this.path(file);
    const recipients = [...new Set(h.recipients.map((r) => r.toLowerCase()))];
    const meta: SealedMeta = {
      id,
      messageId: h.messageId,
      receivedAt: h.receivedAt.getTime(),
      heldAt,
      direction: h.direction ?? 'inbound',
      mailFrom: h.mailFrom,
      recipients,
      category: h.category,
      score: h.score,
      symbols: h.symbols,
      reason: h.reason,
    };
    const size = h.message.reduce((n, b) => n + b.length, 0);
    const sealed = await sealMessage(key, id, meta, h.message);
    await mkdir(dirname(full), { recursive: true, mode: 0o750 });
    try {
      await writeDurably(full, sealed);
      await this.#dirSync.sync(dirname(full));
      const head = Buffer.concat(h.message.slice(0, 4)).subarray(0, 256 * 1024);
      await insertQuarantine(
        this.o.db,
        indexRow(meta, head, { size, file, updatedAt: heldAt }),
        // The hold itself is in the message's trace through the caller (the SMTP session
        // records "quarantined" with the quarantine id among its events).
        recipients,
      );
    } catch (err) {
      // Not recorded, so not kept: the caller answers with a temporary failure.
      await unlink(full).catch(() => {});
      throw err;
    }
    return id;
  }

  /** The entry and the message bytes exactly as they were held. */
  async open(id: string): Promise<{ entry: QuarantineEntry; message: Buffer; meta: SealedMeta }> {
    const entry = await getQuarantine(this.o.db, id);
    if (!entry) throw new Error(`no quarantined message with id ${id}`);
    if (entry.state === 'deleted') throw new Error(`quarantined message ${id} was deleted`);
    const sealed = await readSealedFile(this.path(entry.file)).catch((err: NodeJS.ErrnoException) => {
      throw new Error(`quarantine file of ${id} is missing (${err.code ?? err.message})`);
    });
    const { meta, message } = await openSealed<SealedMeta>(this.#masterKey(), id, sealed);
    return { entry, message, meta };
  }

  /**
   * Files without an index row: the row of a hold was lost (the gateway's database
   * commits without fsync; the file was fsync'd before the SMTP reply). Each is indexed
   * again from the metadata sealed in it. A hold that failed before its reply leaves no
   * file (it is removed), so this never brings back a refused message.
   */
  async reindexOrphans(minAgeMs = 60_000): Promise<number> {
    let n = 0;
    for (const sub of '0123456789ABCDEF') {
      const dir = join(this.o.dir, sub);
      const names = await readdir(dir).catch(() => [] as string[]);
      if (!names.length) continue;
      const known = new Set((await this.o.db.selectFrom('quarantine').select('id').where('id', 'in', names).execute()).map((r) => r.id));
      for (const id of names) {
        if (known.has(id) || !/^[0-9A-Z]{17}$/.test(id)) continue;
        const file = join(sub, id);
        // A hold in progress writes its file before its row: leave young files alone.
        if (Date.now() - (await stat(this.path(file))).mtimeMs < minAgeMs) continue;
        const { meta, message } = await openSealed<SealedMeta>(this.#masterKey(), id, await readSealedFile(this.path(file)));
        await insertQuarantine(
          this.o.db,
          indexRow(meta, message, { size: message.length, file, updatedAt: Date.now() }),
          meta.recipients,
          { type: 'quarantine-reindexed', detail: { quarantineId: id, reason: 'quarantine file without index row' } },
        );
        n++;
      }
    }
    return n;
  }

  async removeFile(file: string): Promise<void> {
    await unlink(this.path(file)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async close(): Promise<void> {
    await this.#dirSync.close();
  }
}
