// After a restore: the database snapshot was taken before the spool was copied, so a
// message the original gateway finished in between is still "queued" in the snapshot
// though its spool file was removed (a spool file goes only when every recipient is
// final). Such messages are marked done, so the restored gateway neither retries nor
// bounces mail that was already delivered.
import type { Db } from '../database.ts';

export async function queuedSpoolFiles(db: Db): Promise<Array<{ id: string; spoolFile: string }>> {
  const rows = await db.selectFrom('messages').select(['id', 'spool_file']).where('state', '=', 'queued').execute();
  return rows.map((r) => ({ id: r.id, spoolFile: r.spool_file }));
}

export async function markFinishedBeforeBackup(db: Db, ids: readonly string[], at = Date.now()): Promise<void> {
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    await db.transaction().execute(async (trx) => {
      await trx.updateTable('messages').set({ state: 'done', done_at: at }).where('id', 'in', chunk).where('state', '=', 'queued').execute();
      await trx
        .insertInto('events')
        .values(chunk.map((id) => ({ message_id: id, at, type: 'restored', recipient: null, detail: JSON.stringify({ note: 'finished by the original gateway while the backup was taken' }) })))
        .execute();
    });
  }
}
