// On start: the spool files are the truth, the index is brought in line with them.
// A file the index does not know (the crash came between fsync and index write) is
// indexed again from its envelope; a file whose message is finished is removed, and so
// is one whose recipients are all final (the crash came before the message was marked
// done). A DSN file without an index entry was never committed with its decision (see
// DeliveryScheduler#bounce): it is removed, and its message decides again.
import { basename } from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../db/database.ts';
import type { IndexWriter } from '../trace/index-writer.ts';
import { indexRows } from './acceptor.ts';
import { TruncatedSpoolFile, type Spool } from './spool-file.ts';

export interface RecoveryReport {
  files: number;
  reindexed: number;
  removed: number;
  damaged: number;
  finished: number;
}

/** `nodes`: the spool node directories this worker is responsible for. */
export async function recoverSpool(db: Db, spool: Spool, index: IndexWriter, log: Logger, nodes: number[]): Promise<RecoveryReport> {
  const files = await spool.list(nodes);
  const report: RecoveryReport = { files: files.length, reindexed: 0, removed: 0, damaged: 0, finished: 0 };
  const CHUNK = 500;
  for (let i = 0; i < files.length; i += CHUNK) {
    const chunk = files.slice(i, i + CHUNK);
    const ids = chunk.map((f) => basename(f));
    const known = new Map(
      (await db.selectFrom('messages').select(['id', 'state']).where('id', 'in', ids).execute()).map((r) => [r.id, r.state]),
    );
    const queued = ids.filter((id) => known.get(id) === 'queued');
    const pending = new Set(
      queued.length
        ? (await db.selectFrom('recipients').select('message_id').distinct().where('message_id', 'in', queued).where('status', 'in', ['queued', 'deferred']).execute()).map((r) => r.message_id)
        : [],
    );
    for (const file of chunk) {
      const id = basename(file);
      const state = known.get(id);
      if (state === 'queued' && pending.has(id)) continue;
      if (state === 'queued') {
        const now = Date.now();
        await index.op(async (trx) => {
          await trx.updateTable('messages').set({ state: 'done', done_at: now }).where('id', '=', id).where('state', '=', 'queued').execute();
        });
        await spool.remove(file);
        report.finished++;
        continue;
      }
      if (state !== undefined) {
        await spool.remove(file);
        report.removed++;
        continue;
      }
      try {
        const { envelope, message } = await spool.read(file);
        if (envelope.direction === 'dsn' && envelope.parentId && (await parentUndecided(db, envelope.parentId))) {
          log.info({ file, parent: envelope.parentId }, 'removing a DSN whose decision was never committed; its message decides again');
          await spool.remove(file);
          report.removed++;
          continue;
        }
        await index.insertMessage(...indexRows(envelope, file, message.length, [
          { message_id: envelope.id, at: Date.now(), type: 'recovered', recipient: null, detail: JSON.stringify({ reason: 'spool file without index entry after restart' }) },
        ]));
        report.reindexed++;
      } catch (err) {
        if (err instanceof TruncatedSpoolFile) {
          // Cut off mid-write: its fsync never completed, so it was never acknowledged.
          log.info({ file }, 'removing a spool file cut off by a crash before it was acknowledged');
          await spool.remove(file);
          report.removed++;
          continue;
        }
        // Keep the file for an admin to look at; never delete what we cannot read.
        report.damaged++;
        log.error({ err, file }, 'damaged spool file left in place');
      }
    }
  }
  return report;
}

/** The DSN's message is still queued, or not indexed at all: its failed recipients are not final. */
async function parentUndecided(db: Db, parentId: string): Promise<boolean> {
  const parent = await db.selectFrom('messages').select('state').where('id', '=', parentId).executeTakeFirst();
  return parent === undefined || parent.state === 'queued';
}
