// The queue from the command line: what is waiting, why, and what to do about it.
// The work is in services/queue-service.ts; this file parses and prints.
import type { Command } from 'commander';
import type { Db } from '../db/database.ts';
import { cliActor } from '../services/actor.ts';
import { collectPages } from '../services/page.ts';
import { deleteQueued, holdQueued, listQueue, releaseQueued, resolveQueueId, retryQueue } from '../services/queue-service.ts';
import { fmtTime, printTable, withDataDir, withDb } from './context.ts';

type D = { dataDir: string };

export function registerQueue(program: Command): void {
  const queue = program.command('queue').description('messages waiting for delivery');
  withDataDir(queue.command('list').description('list queued messages with their pending recipients').option('--limit <n>', 'at most this many', '100')).action(
    async (o: D & { limit: string }) => {
      await withDb(o.dataDir, async (db) => {
        const rows = await collectPages((cursor, limit) => listQueue(db, cliActor(), { ...(cursor ? { cursor } : {}), limit }), Number(o.limit));
        printTable(
          rows.map((r) => ({
            id: r.id,
            received: fmtTime(Date.parse(r.receivedAt)),
            from: r.from || '<>',
            to: r.recipient,
            status: r.status,
            attempts: r.attempts,
            next_attempt: r.status === 'held' ? 'held' : r.status === 'deferred' ? fmtTime(r.nextAttemptAt ? Date.parse(r.nextAttemptAt) : null) : 'now',
            last_reply: (r.lastReply ?? '').slice(0, 60),
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
        const r = await retryQueue(db, cliActor(), id ?? null);
        console.log(`${r.recipients} deferred recipient(s) will be retried within a second by the running gateway`);
      });
    },
  );
  withDataDir(queue.command('hold <id>').description('hold a queued message: no delivery attempt until "queue release"')).action(async (id: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      const r = await holdQueued(db, cliActor(), id);
      console.log(`held ${r.id} (${r.recipients} recipient(s)): no delivery attempt until "hermes queue release ${r.id}"`);
    });
  });
  withDataDir(queue.command('release <id>').description('release a held message: it is tried again within a second')).action(async (id: string, o: D) => {
    await withDb(o.dataDir, async (db) => {
      const r = await releaseQueued(db, cliActor(), id);
      console.log(`released ${r.id} (${r.recipients} recipient(s)): the running gateway tries it within a second`);
    });
  });
  withDataDir(queue.command('delete <id>').description('delete a queued message without delivering or bouncing it')).action(async (id: string, o: D) => {
    await withDb(o.dataDir, async (db, cfg) => {
      const r = await deleteQueued(db, cliActor(), id, cfg.storage.spool);
      console.log(`deleted ${r.id} from the queue`);
    });
  });
}

/** A full queue id, or a unique prefix of one. */
export function resolveId(db: Db, id: string): Promise<string> {
  return resolveQueueId(db, id);
}
