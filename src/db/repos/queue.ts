// The delivery queue as admins see it: messages still in the queue with their pending
// recipients, and the few changes an admin makes to it (retry now, hold, release,
// delete). The scheduler itself reads the same tables (delivery/scheduler.ts).
import { sql } from 'kysely';
import type { Db } from '../database.ts';
import type { EventRow, MessageRow, RecipientRow } from '../schema.ts';
import { inTransaction } from '../transaction.ts';
import { bumpConfigSerial } from '../../config/settings.ts';
import { inDomains } from './domain-scope.ts';

/**
 * A held recipient is a deferred one whose next attempt is "never": the scheduler only
 * picks deferred recipients that are due, so it leaves them alone without knowing about
 * holds; a release makes them due at once.
 */
export const HELD_UNTIL = Number.MAX_SAFE_INTEGER;

export interface QueueRow {
  id: string;
  received_at: number;
  mail_from: string;
  subject: string | null;
  size: number;
  direction: string;
  address: string;
  idx: number;
  status: string;
  attempts: number;
  next_attempt_at: number;
  last_reply: string | null;
}

export interface QueueFilter {
  /** Keyset: rows after (received_at, id, idx). */
  after?: [number, string, number];
  sender?: string;
  recipient?: string;
  /** Pending recipients on this domain (or its subdomains). */
  domain?: string;
  status?: 'queued' | 'deferred' | 'held';
  scope?: readonly string[];
  limit: number;
}

/** Pending recipients of queued messages, oldest message first. */
export function pageQueue(db: Db, f: QueueFilter): Promise<QueueRow[]> {
  let q = db
    .selectFrom('recipients')
    .innerJoin('messages', 'messages.id', 'recipients.message_id')
    .where('recipients.status', 'in', ['queued', 'deferred'])
    .select([
      'messages.id',
      'messages.received_at',
      'messages.mail_from',
      'messages.subject',
      'messages.size',
      'messages.direction',
      'recipients.address',
      'recipients.idx',
      'recipients.status',
      'recipients.attempts',
      'recipients.next_attempt_at',
      'recipients.last_reply',
    ]);
  if (f.after) {
    const [at, id, idx] = f.after;
    q = q.where((eb) =>
      eb.or([
        eb('messages.received_at', '>', at),
        eb.and([eb('messages.received_at', '=', at), eb('messages.id', '>', id)]),
        eb.and([eb('messages.received_at', '=', at), eb('messages.id', '=', id), eb('recipients.idx', '>', idx)]),
      ]),
    );
  }
  if (f.sender) q = q.where(sql<string>`lower(messages.mail_from)`, '=', f.sender.toLowerCase());
  if (f.recipient) q = q.where('recipients.address', '=', f.recipient.toLowerCase());
  if (f.domain) q = q.where((eb) => inDomains(eb, 'recipients.domain', [f.domain!.toLowerCase()]));
  if (f.status === 'held') q = q.where('recipients.next_attempt_at', '=', HELD_UNTIL);
  else if (f.status === 'deferred') q = q.where('recipients.status', '=', 'deferred').where('recipients.next_attempt_at', '<', HELD_UNTIL);
  else if (f.status === 'queued') q = q.where('recipients.status', '=', 'queued');
  if (f.scope) q = q.where((eb) => inDomains(eb, 'recipients.domain', f.scope!));
  return q.orderBy('messages.received_at').orderBy('messages.id').orderBy('recipients.idx').limit(f.limit).execute() as Promise<QueueRow[]>;
}

/** A full queue id, or a unique prefix of one; null when none or several match. */
export async function findMessageIds(db: Db, idOrPrefix: string): Promise<string[]> {
  const rows = await db.selectFrom('messages').select('id').where('id', 'like', `${idOrPrefix.toUpperCase()}%`).limit(2).execute();
  return rows.map((r) => r.id);
}

export function getMessage(db: Db, id: string): Promise<MessageRow | undefined> {
  return db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirst();
}

export function messageRecipients(db: Db, id: string): Promise<RecipientRow[]> {
  return db.selectFrom('recipients').selectAll().where('message_id', '=', id).orderBy('idx').execute();
}

export function messageEvents(db: Db, id: string): Promise<EventRow[]> {
  return db.selectFrom('events').selectAll().where('message_id', '=', id).orderBy('id').execute();
}

async function addEvent(db: Db, messageId: string, type: string, detail: unknown): Promise<void> {
  await db.insertInto('events').values({ message_id: messageId, at: Date.now(), type, recipient: null, detail: JSON.stringify(detail) }).execute();
}

/** Deferred (not held) recipients become due now; one message, or all when id is null. Returns how many. */
export async function retryDeferred(db: Db, id: string | null, by: string): Promise<number> {
  return inTransaction(db, async (trx) => {
    let q = trx.updateTable('recipients').set({ next_attempt_at: 0 }).where('status', '=', 'deferred').where('next_attempt_at', '<', HELD_UNTIL);
    if (id) q = q.where('message_id', '=', id);
    const n = Number((await q.executeTakeFirst()).numUpdatedRows);
    if (id && n) await addEvent(trx, id, 'retry-requested', { by, recipients: n });
    return n;
  });
}

/** Holds every pending recipient of a message: the scheduler leaves them until released. */
export async function holdMessage(db: Db, id: string, by: string): Promise<number> {
  return inTransaction(db, async (trx) => {
    const res = await trx
      .updateTable('recipients')
      .set({ status: 'deferred', next_attempt_at: HELD_UNTIL, updated_at: Date.now() })
      .where('message_id', '=', id)
      .where('status', 'in', ['queued', 'deferred'])
      .where('next_attempt_at', '<', HELD_UNTIL)
      .executeTakeFirst();
    const n = Number(res.numUpdatedRows);
    if (n) await addEvent(trx, id, 'held', { by, recipients: n });
    return n;
  });
}

/** Releases the held recipients of a message: they are due at once. */
export async function releaseMessage(db: Db, id: string, by: string): Promise<number> {
  return inTransaction(db, async (trx) => {
    const res = await trx
      .updateTable('recipients')
      .set({ next_attempt_at: 0, updated_at: Date.now() })
      .where('message_id', '=', id)
      .where('status', '=', 'deferred')
      .where('next_attempt_at', '=', HELD_UNTIL)
      .executeTakeFirst();
    const n = Number(res.numUpdatedRows);
    if (n) await addEvent(trx, id, 'hold-released', { by, recipients: n });
    return n;
  });
}

/** Marks a queued message's pending recipients deleted and the message done (the caller removes its spool file). */
export async function deleteQueuedMessage(db: Db, id: string, by: string): Promise<number> {
  const now = Date.now();
  return inTransaction(db, async (trx) => {
    const n = await trx.updateTable('recipients').set({ status: 'deleted', updated_at: now }).where('message_id', '=', id).where('status', 'in', ['queued', 'deferred']).executeTakeFirst();
    await trx.updateTable('messages').set({ state: 'done', done_at: now }).where('id', '=', id).execute();
    await trx.insertInto('events').values({ message_id: id, at: now, type: 'deleted', recipient: null, detail: JSON.stringify({ by, recipients: Number(n.numUpdatedRows) }) }).execute();
    await bumpConfigSerial(trx);
    return Number(n.numUpdatedRows);
  });
}

/** Pending recipients, and how many of them are deferred (held included), for the dashboard. */
export async function queueSize(db: Db, scope?: readonly string[]): Promise<{ messages: number; recipients: number; deferred: number }> {
  let q = db
    .selectFrom('recipients')
    .where('status', 'in', ['queued', 'deferred'])
    .select((eb) => [
      eb.fn.countAll<number>().as('recipients'),
      sql<number>`count(distinct message_id)`.as('messages'),
      sql<number>`sum(case when status = 'deferred' then 1 else 0 end)`.as('deferred'),
    ]);
  if (scope) q = q.where((eb) => inDomains(eb, 'domain', scope));
  const r = await q.executeTakeFirstOrThrow();
  return { messages: Number(r.messages), recipients: Number(r.recipients), deferred: Number(r.deferred ?? 0) };
}
