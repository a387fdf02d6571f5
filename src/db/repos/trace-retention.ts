// Trace retention: finished messages (done or rejected) older than the retention window
// lose their index rows: message, recipients, events. Queued mail is never touched, nor a
// message whose copy is still held in quarantine (the quarantine has its own retention).
// Deleted in small batches, each its own transaction, so the gateway's writers are never
// held up for long and a busy database just takes a few more rounds. SQLite reuses the
// freed pages by itself; PostgreSQL reuses a table's space only once VACUUM has seen it,
// so after a purge the three tables are vacuumed (autovacuum would, later).
import { sql } from 'kysely';
import { dialectOf, type Db } from '../database.ts';

export interface TracePurgeResult {
  messages: number;
  batches: number;
}

export async function purgeFinishedTraces(db: Db, olderThan: number, batchSize = 500): Promise<TracePurgeResult> {
  let messages = 0;
  let batches = 0;
  for (;;) {
    const n = await db.transaction().execute(async (trx) => {
      const ids = (
        await trx
          .selectFrom('messages')
          .select('id')
          .where('state', 'in', ['done', 'rejected'])
          .where('done_at', 'is not', null)
          .where('done_at', '<', olderThan)
          .where((eb) => eb.not(eb.exists(eb.selectFrom('quarantine').select('quarantine.id').whereRef('quarantine.message_id', '=', 'messages.id').where('quarantine.state', '=', 'held'))))
          .limit(batchSize)
          .execute()
      ).map((r) => r.id);
      if (!ids.length) return 0;
      await trx.deleteFrom('events').where('message_id', 'in', ids).execute();
      await trx.deleteFrom('recipients').where('message_id', 'in', ids).execute();
      await trx.deleteFrom('messages').where('id', 'in', ids).execute();
      // Bytes left behind by a crash between "done" and their removal.
      await trx.deleteFrom('message_bytes').where('message_id', 'in', ids).execute();
      return ids.length;
    });
    if (!n) break;
    messages += n;
    batches++;
    if (n < batchSize) break;
  }
  if (messages && dialectOf(db) === 'postgres' && !db.isTransaction) await sql`VACUUM events, recipients, messages`.execute(db);
  return { messages, batches };
}
