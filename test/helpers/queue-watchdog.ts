// The queue's standing promise, checked from outside: every recipient still queued or
// deferred is either being attempted or has a next attempt the scheduler will reach.
// A recipient whose attempt time stays in the past for the whole watch (60 s by
// default) was stranded: nothing will ever try it again without a restart.
import type { Db } from '../../src/db/database.ts';

export interface StrandedRecipient {
  message_id: string;
  idx: number;
  address: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
}

/**
 * Resolves once no pending recipient is overdue (a pending one with a future
 * next_attempt_at is fine); rejects listing the recipients that stayed overdue for
 * `watchMs`. `graceMs`: how late an attempt may start on a busy machine.
 */
export async function assertNoStrandedRecipients(db: Db, o: { watchMs?: number; graceMs?: number } = {}): Promise<void> {
  const watchMs = o.watchMs ?? 60_000;
  const graceMs = o.graceMs ?? 5_000;
  const deadline = Date.now() + watchMs;
  let overdue: StrandedRecipient[] = [];
  for (;;) {
    overdue = await db
      .selectFrom('recipients')
      .innerJoin('messages', 'messages.id', 'recipients.message_id')
      .select(['recipients.message_id', 'recipients.idx', 'recipients.address', 'recipients.status', 'recipients.attempts', 'recipients.next_attempt_at'])
      .where('messages.state', '=', 'queued')
      .where('recipients.status', 'in', ['queued', 'deferred'])
      .where('recipients.next_attempt_at', '<', Date.now() - graceMs)
      .limit(20)
      .execute();
    if (overdue.length === 0) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const sample = overdue.map((r) => `${r.message_id}#${r.idx} <${r.address}> ${r.status} attempts=${r.attempts} due ${new Date(r.next_attempt_at).toISOString()}`);
  throw new Error(`recipients without a scheduled attempt after ${watchMs} ms:\n${sample.join('\n')}`);
}
