// Read-only figures about the delivery queue, for `hermes doctor` and the metrics.
import type { Db } from '../database.ts';
import { PENDING_STATUSES } from '../schema.ts';

export interface QueueStats {
  /** Recipient copies waiting for delivery (queued or deferred). */
  pendingRecipients: number;
  /** Messages with at least one such copy. */
  pendingMessages: number;
  /** When the oldest of those messages was received (ms), or null for an empty queue. */
  oldestReceivedAt: number | null;
}

export async function queueStats(db: Db): Promise<QueueStats> {
  const row = await db
    .selectFrom('recipients')
    .innerJoin('messages', 'messages.id', 'recipients.message_id')
    .where('recipients.status', 'in', PENDING_STATUSES)
    .select((eb) => [
      eb.fn.countAll<number>().as('recipients'),
      eb.fn.count<number>('recipients.message_id').distinct().as('messages'),
      eb.fn.min<number | null>('messages.received_at').as('oldest'),
    ])
    .executeTakeFirst();
  return {
    pendingRecipients: Number(row?.recipients ?? 0),
    pendingMessages: Number(row?.messages ?? 0),
    oldestReceivedAt: row?.oldest === null || row?.oldest === undefined ? null : Number(row.oldest),
  };
}
