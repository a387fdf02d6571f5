// The queue's leases: a node delivers a recipient only while it holds the recipient's
// lease (owner, expiry). Any node claims due recipients nobody holds, or whose lease ran
// out (its node died); it renews its leases while it delivers and drops them when the
// attempt is recorded. On PostgreSQL the claim locks the rows it takes with FOR UPDATE
// SKIP LOCKED, so nodes claiming at the same moment take different rows instead of
// queueing behind each other; on SQLite the claim's transaction holds the write lock
// (BEGIN IMMEDIATE), which serialises claims the same way.
import { dialectOf, type Db } from '../database.ts';
import type { MessageDirection } from '../schema.ts';

export interface ClaimedRecipient {
  message_id: string;
  idx: number;
  address: string;
  route: string;
  require_tls: number;
  attempts: number;
  first_attempt_at: number | null;
  delay_warned_at: number | null;
  spool_file: string;
  mail_from: string;
  direction: MessageDirection;
  received_at: number;
}

const PENDING = ['queued', 'deferred'] as const;

/**
 * Takes up to `limit` due recipients (oldest first) for `owner` until `until`: run it in a
 * transaction (the index writer's), whose commit publishes the leases.
 */
export async function claimDueRecipients(trx: Db, owner: string, now: number, until: number, limit: number): Promise<ClaimedRecipient[]> {
  let q = trx
    .selectFrom('recipients')
    .innerJoin('messages', 'messages.id', 'recipients.message_id')
    .where('recipients.status', 'in', PENDING)
    .where('recipients.next_attempt_at', '<=', now)
    .where('messages.state', '=', 'queued')
    .where((eb) => eb.or([eb('recipients.lease_until', 'is', null), eb('recipients.lease_until', '<', now)]))
    .select([
      'recipients.message_id',
      'recipients.idx',
      'recipients.address',
      'recipients.route',
      'recipients.require_tls',
      'recipients.attempts',
      'recipients.first_attempt_at',
      'recipients.delay_warned_at',
      'messages.spool_file',
      'messages.mail_from',
      'messages.direction',
      'messages.received_at',
    ])
    .orderBy('recipients.next_attempt_at')
    .limit(limit);
  if (dialectOf(trx) === 'postgres') q = q.forUpdate('recipients').skipLocked();
  const rows = await q.execute();
  const byMessage = new Map<string, number[]>();
  for (const r of rows) {
    const list = byMessage.get(r.message_id);
    if (list) list.push(r.idx);
    else byMessage.set(r.message_id, [r.idx]);
  }
  const ids = [...byMessage.entries()];
  for (let i = 0; i < ids.length; i += 200) {
    const part = ids.slice(i, i + 200);
    await trx
      .updateTable('recipients')
      .set({ lease_owner: owner, lease_until: until })
      .where((eb) => eb.or(part.map(([id, idx]) => eb.and([eb('message_id', '=', id), eb('idx', 'in', idx)]))))
      .execute();
  }
  return rows.map((r) => ({ ...r, received_at: Number(r.received_at), first_attempt_at: r.first_attempt_at === null ? null : Number(r.first_attempt_at) }));
}

/**
 * Extends the leases `owner` holds on the pending recipients of `messageIds` (the mail it
 * has in hand); returns how many. A lease it holds on anything else is left to run out, so
 * a recipient it lost track of goes back to the queue instead of being kept forever.
 */
export async function renewLeases(db: Db, owner: string, until: number, messageIds: readonly string[]): Promise<number> {
  let n = 0;
  for (let i = 0; i < messageIds.length; i += 500) {
    const part = messageIds.slice(i, i + 500);
    const r = await db.updateTable('recipients').set({ lease_until: until }).where('lease_owner', '=', owner).where('status', 'in', PENDING).where('message_id', 'in', part).executeTakeFirst();
    n += Number(r.numUpdatedRows);
  }
  return n;
}

/** Lets go of `owner`'s leases on these recipients, so the next claim (any node's) takes them. */
export async function releaseLeasesOf(db: Db, owner: string, recipients: ReadonlyArray<{ messageId: string; idx: number }>): Promise<number> {
  let n = 0;
  for (let i = 0; i < recipients.length; i += 200) {
    const part = recipients.slice(i, i + 200);
    const r = await db
      .updateTable('recipients')
      .set({ lease_owner: null, lease_until: null })
      .where('lease_owner', '=', owner)
      .where((eb) => eb.or(part.map((p) => eb.and([eb('message_id', '=', p.messageId), eb('idx', '=', p.idx)]))))
      .executeTakeFirst();
    n += Number(r.numUpdatedRows);
  }
  return n;
}

/**
 * Lets go of every lease `owner` holds: at a clean stop (nothing is being delivered any
 * more), and at start (a node restarted under the same name delivers nothing yet, so its
 * old leases need not run out before anyone, itself included, takes the mail again).
 */
export async function releaseLeases(db: Db, owner: string): Promise<number> {
  const r = await db.updateTable('recipients').set({ lease_owner: null, lease_until: null }).where('lease_owner', '=', owner).where('status', 'in', PENDING).executeTakeFirst();
  return Number(r.numUpdatedRows);
}
