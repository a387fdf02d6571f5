// The queue from the command line: what is waiting, why, and what to do about it.
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Db } from '../db/database.ts';
import { bumpConfigSerial } from '../config/settings.ts';
import { fmtTime, printTable, withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('messages waiting for delivery');
  withDataDir(queue.command('list').description('list queued messages with their pending recipients').option('--limit <n>', 'at most this many', '100')).action(
    async (o: D & { limit: string }) => {
      await withDb(o.dataDir, async (db) => {
        const rows = await db
          .selectFrom('recipients')
          .innerJoin('messages', 'messages.id', 'recipients.message_id')
          .where('recipients.status', 'in', ['queued', 'deferred'])
          .select([
            'messages.id',
            'messages.received_at',
            'messages.mail_from',
            'recipients.address',
            'recipients.status',
            'recipients.attempts',
            'recipients.next_attempt_at',
            'recipients.last_reply',
          ])
          .orderBy('messages.received_at')
          .limit(Number(o.limit))
          .execute();
        printTable(
          rows.map((r) => ({
            id: r.id,
            received: fmtTime(r.received_at),
            from: r.mail_from || '<>',
            to: r.address,
            status: r.status,
            attempts: r.attempts,
            next_attempt: r.status === 'deferred' ? fmtTime(r.next_attempt_at) : 'now',
            last_reply: (r.last_reply ?? '').slice(0, 60),
          })),
          ['id', 'received', 'from', 'to', 'status', 'attempts', 'next_attempt', 'last_reply'],
          'the queue is empty',
        );
      });
    },
  );
  withDataDir(queue.command('show <id>').description('show one queued message (same as "hermes trace <id>")')).action(async (id: string, o: D) => {
    const { printTrace } = await import('./trace-command.ts');
    await withDb(o.dataDir, async (db) => printTrace(db, id));
  });
  withDataDir(queue.command('retry [id]').description('retry deferred recipients now (one message, or --all)').option('--all', 'every deferred recipient')).action(
    async (id: string | undefined, o: D & { all?: boolean }) => {
      if (!id && !o.all) throw new Error('give a queue id, or --all');
      await withDb(o.dataDir, async (db) => {
        let q = db.updateTable('recipients').set({ next_attempt_at: 0 }).where('status', '=', 'deferred');
        if (id) q = q.where('message_id', '=', await resolveId(db, id));
        const res = await q.executeTakeFirst();
        console.log(`${Number(res.numUpdatedRows)} deferred recipient(s) will be retried within a second by the running gateway`);
      });
    },
  );
  withDataDir(queue.command('delete <id>').description('delete a queued message without delivering or bouncing it')).action(async (id: string, o: D) => {
    await withDb(o.dataDir, async (db, cfg) => {
      const mid = await resolveId(db, id);
      const msg = await db.selectFrom('messages').select(['spool_file', 'state']).where('id', '=', mid).executeTakeFirstOrThrow();
      if (msg.state !== 'queued') throw new Error(`message ${mid} is not in the queue (state: ${msg.state})`);
      const now = Date.now();
      await db.transaction().execute(async (trx) => {
        const n = await trx.updateTable('recipients').set({ status: 'deleted', updated_at: now }).where('message_id', '=', mid).where('status', 'in', ['queued', 'deferred']).executeTakeFirst();
        await trx.updateTable('messages').set({ state: 'done', done_at: now }).where('id', '=', mid).execute();
        await trx.insertInto('events').values({ message_id: mid, at: now, type: 'deleted', recipient: null, detail: JSON.stringify({ by: 'cli', recipients: Number(n.numUpdatedRows) }) }).execute();
        await bumpConfigSerial(trx);
      });
      await unlink(join(cfg.storage.spool, msg.spool_file)).catch(() => {});
      console.log(`deleted ${mid} from the queue`);
    });
  });
}

/** A full queue id, or a unique prefix of one. */
export async function resolveId(db: Db, id: string): Promise<string> {
  const rows = await db.selectFrom('messages').select('id').where('id', 'like', `${id.toUpperCase()}%`).limit(2).execute();
  if (rows.length === 0) throw new Error(`no message with queue id ${id}`);
  if (rows.length > 1) throw new Error(`queue id prefix ${id} is ambiguous`);
  return rows[0]!.id;
}
