// The delivery queue: what is waiting and why, and what an admin does about it (retry
// now, hold, release, delete). A domain administrator sees the queue entries for its
// domains and acts on messages whose pending recipients are all in them.
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../db/database.ts';
import {
  deleteQueuedMessage,
  findMessageIds,
  getMessage,
  HELD_UNTIL,
  holdMessage,
  messageRecipients,
  pageQueue,
  releaseMessage,
  retryDeferred,
  type QueueRow,
} from '../db/repos/queue.ts';
import { PENDING_STATUSES } from '../db/schema.ts';
import { assertCan, canSeeDomain, domainOf, type Actor } from './actor.ts';
import { recordChange } from './audit-service.ts';
import { decodeCursor, pageSize, toPage, type Page } from './page.ts';
import { ServiceError } from './service-error.ts';
import { invalid, iso } from './validation.ts';
import type { QueueEntry } from '../shared/queue.ts';
import { isDbSpoolFile } from '../spool/db-spool.ts';
import { deleteMessageBytes } from '../db/repos/message-bytes.ts';

export type { QueueEntry };

export interface QueueQuery {
  cursor?: string;
  limit?: number;
  sender?: string;
  recipient?: string;
  domain?: string;
  status?: 'queued' | 'deferred' | 'held';
}

const STATUSES = ['queued', 'deferred', 'held'];

function toEntry(r: QueueRow): QueueEntry {
  const held = Number(r.next_attempt_at) === HELD_UNTIL;
  return {
    id: r.id,
    receivedAt: iso(r.received_at)!,
    from: r.mail_from,
    subject: r.subject,
    size: Number(r.size),
    direction: r.direction,
    recipient: r.address,
    status: held ? 'held' : (r.status as 'queued' | 'deferred'),
    attempts: Number(r.attempts),
    nextAttemptAt: held ? null : r.status === 'queued' ? iso(r.received_at) : iso(r.next_attempt_at),
    lastReply: r.last_reply,
  };
}

export async function listQueue(db: Db, actor: Actor, q: QueueQuery = {}): Promise<Page<QueueEntry>> {
  assertCan(actor, 'queue.read');
  const limit = pageSize(q.limit);
  if (q.status !== undefined && !STATUSES.includes(q.status)) throw invalid('status', `status must be one of ${STATUSES.join(', ')}`);
  const after = decodeCursor(q.cursor, (v): v is [number, string, number] => Array.isArray(v) && v.length === 3 && typeof v[0] === 'number' && typeof v[1] === 'string' && typeof v[2] === 'number');
  const rows = await pageQueue(db, {
    ...(after ? { after } : {}),
    ...(q.sender ? { sender: q.sender } : {}),
    ...(q.recipient ? { recipient: q.recipient } : {}),
    ...(q.domain ? { domain: q.domain } : {}),
    ...(q.status ? { status: q.status } : {}),
    ...(actor.domains ? { scope: actor.domains } : {}),
    limit: limit + 1,
  });
  return toPage(rows, limit, toEntry, (r) => [Number(r.received_at), r.id, Number(r.idx)]);
}

/** A full queue id or a unique prefix of one. */
export async function resolveQueueId(db: Db, id: string): Promise<string> {
  const ids = await findMessageIds(db, id);
  if (ids.length === 0) throw new ServiceError('not_found', `no message with queue id ${id}`);
  if (ids.length > 1) throw new ServiceError('invalid', `queue id prefix ${id} is ambiguous`, { id: 'ambiguous prefix' });
  return ids[0]!;
}

/** Loads a message and checks the actor may see it (read) or act on it (write: every pending recipient in its domains). */
export async function loadScoped(db: Db, actor: Actor, id: string, op: 'read' | 'write') {
  const msg = await getMessage(db, id);
  if (!msg) throw new ServiceError('not_found', `no message with queue id ${id}`);
  const rcpts = await messageRecipients(db, id);
  if (actor.domains !== null) {
    const mine = (a: string) => canSeeDomain(actor, domainOf(a));
    const visible = rcpts.some((r) => mine(r.address)) || (msg.mail_from !== '' && mine(msg.mail_from));
    if (!visible) throw new ServiceError('not_found', `no message with queue id ${id}`);
    if (op === 'write' && !rcpts.filter((r) => PENDING_STATUSES.includes(r.status)).every((r) => mine(r.address))) {
      throw new ServiceError('forbidden', `message ${id} also goes to domains you do not administer; ask an administrator`);
    }
  }
  return { msg, rcpts };
}

/** Deferred recipients are tried again now: one message, or every one (id null, administrators only). */
export async function retryQueue(db: Db, actor: Actor, id: string | null): Promise<{ recipients: number }> {
  assertCan(actor, 'queue.write');
  if (id === null && actor.domains !== null) throw new ServiceError('forbidden', 'retry the messages of your domains one by one');
  const mid = id === null ? null : await resolveQueueId(db, id);
  if (mid) await loadScoped(db, actor, mid, 'write');
  return db.transaction().execute(async (trx) => {
    const n = await retryDeferred(trx, mid, actor.name);
    await recordChange(trx, actor, { action: 'queue.retry', targetType: 'message', targetId: mid ?? '*', after: { recipients: n } });
    return { recipients: n };
  });
}

async function holdOrRelease(db: Db, actor: Actor, id: string, what: 'hold' | 'release'): Promise<{ id: string; recipients: number }> {
  assertCan(actor, 'queue.write');
  const mid = await resolveQueueId(db, id);
  const { msg } = await loadScoped(db, actor, mid, 'write');
  if (msg.state !== 'queued') throw new ServiceError('conflict', `message ${mid} is not in the queue (state: ${msg.state})`);
  return db.transaction().execute(async (trx) => {
    const n = what === 'hold' ? await holdMessage(trx, mid, actor.name) : await releaseMessage(trx, mid, actor.name);
    if (!n) throw new ServiceError('conflict', what === 'hold' ? `message ${mid} has no pending recipient to hold (held already?)` : `message ${mid} is not held`);
    await recordChange(trx, actor, { action: `queue.${what}`, targetType: 'message', targetId: mid, after: { recipients: n } });
    return { id: mid, recipients: n };
  });
}

export const holdQueued = (db: Db, actor: Actor, id: string) => holdOrRelease(db, actor, id, 'hold');
export const releaseQueued = (db: Db, actor: Actor, id: string) => holdOrRelease(db, actor, id, 'release');

/** Deletes a queued message without delivering or bouncing it; its trace stays. */
export async function deleteQueued(db: Db, actor: Actor, id: string, spoolDir: string): Promise<{ id: string; recipients: number }> {
  assertCan(actor, 'queue.write');
  const mid = await resolveQueueId(db, id);
  const { msg, rcpts } = await loadScoped(db, actor, mid, 'write');
  if (msg.state !== 'queued') throw new ServiceError('conflict', `message ${mid} is not in the queue (state: ${msg.state})`);
  const n = await db.transaction().execute(async (trx) => {
    const n = await deleteQueuedMessage(trx, mid, actor.kind === 'cli' ? 'cli' : actor.name);
    await recordChange(trx, actor, {
      action: 'queue.delete',
      targetType: 'message',
      targetId: mid,
      before: { from: msg.mail_from, recipients: rcpts.filter((r) => PENDING_STATUSES.includes(r.status)).map((r) => r.address) },
    });
    return n;
  });
  if (isDbSpoolFile(msg.spool_file)) await deleteMessageBytes(db, mid);
  else await unlink(join(spoolDir, msg.spool_file)).catch(() => {});
  return { id: mid, recipients: n };
}
