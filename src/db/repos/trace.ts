// Message trace search: every message the gateway saw (accepted, rejected, generated),
// newest first, with its filters applied in SQL and keyset pagination on
// (received_at, id), so a page costs an index seek at any table size.
import { sql } from 'kysely';
import type { Db } from '../database.ts';
import type { MessageRow, RecipientRow } from '../schema.ts';
import { inDomains } from './domain-scope.ts';

import { TRACE_VERDICTS, type TraceVerdict } from '../../shared/trace.ts';

export { TRACE_VERDICTS, type TraceVerdict };

export interface TraceFilter {
  /** Keyset: rows before (received_at, id), newest first. */
  before?: [number, string];
  /** Sender or any recipient. */
  address?: string;
  sender?: string;
  recipient?: string;
  /** Substring of the subject (case-insensitive). */
  subject?: string;
  /** Message-ID header, with or without <>. */
  messageId?: string;
  /** Queue id or a prefix of one. */
  queueId?: string;
  clientIp?: string;
  fromMs?: number;
  toMs?: number;
  verdict?: TraceVerdict;
  /** Domain administrators: messages from or to these domains only. */
  scope?: readonly string[];
  limit: number;
}

export function searchMessages(db: Db, f: TraceFilter): Promise<MessageRow[]> {
  let q = db.selectFrom('messages').selectAll('messages');
  if (f.before) {
    const [at, id] = f.before;
    q = q.where((eb) => eb.or([eb('messages.received_at', '<', at), eb.and([eb('messages.received_at', '=', at), eb('messages.id', '<', id)])]));
  }
  if (f.fromMs !== undefined) q = q.where('messages.received_at', '>=', f.fromMs);
  if (f.toMs !== undefined) q = q.where('messages.received_at', '<', f.toMs);
  // Address filters start from the address indexes (recipients(address, message_id),
  // lower(mail_from)) and keep the matching ids; as a correlated EXISTS the planner walked
  // every message newest first and probed each, 136 ms at 100k rows for a rare address.
  const toAddress = (db2: any, address: string) => db2.selectFrom('recipients').select('recipients.message_id').where('recipients.address', '=', address);
  const fromAddress = (db2: any, address: string) => db2.selectFrom('messages as sent').select('sent.id').where(sql<string>`lower(sent.mail_from)`, '=', address);
  if (f.address) {
    const a = f.address.toLowerCase();
    q = q.where('messages.id', 'in', toAddress(db, a).union(fromAddress(db, a)));
  }
  if (f.sender) q = q.where(sql<string>`lower(messages.mail_from)`, '=', f.sender.toLowerCase());
  if (f.recipient) q = q.where('messages.id', 'in', toAddress(db, f.recipient.toLowerCase()));
  if (f.subject) q = q.where(sql<string>`lower(messages.subject)`, 'like', `%${escapeLike(f.subject.toLowerCase())}%`);
  if (f.messageId) {
    const bare = f.messageId.trim().replace(/^<|>$/g, '');
    q = q.where('messages.message_id', 'in', [`<${bare}>`, bare]);
  }
  if (f.queueId) q = q.where('messages.id', 'like', `${escapeLike(f.queueId.toUpperCase())}%`);
  if (f.clientIp) q = q.where('messages.client_ip', '=', f.clientIp);
  if (f.verdict) {
    const v = f.verdict;
    if (v === 'rejected') q = q.where('messages.state', '=', 'rejected');
    else if (v === 'quarantined') q = q.where((eb) => eb.exists(eb.selectFrom('quarantine').select('quarantine.id').whereRef('quarantine.message_id', '=', 'messages.id')));
    else q = q.where((eb) => eb.exists(eb.selectFrom('recipients').select('recipients.idx').whereRef('recipients.message_id', '=', 'messages.id').where('recipients.status', '=', v)));
  }
  if (f.scope) {
    const scope = f.scope;
    q = q.where((eb) =>
      eb.or([
        eb.exists(eb.selectFrom('recipients').select('recipients.idx').whereRef('recipients.message_id', '=', 'messages.id').where((e2) => inDomains(e2, 'recipients.domain', scope))),
        ...scope.flatMap((d) => [eb(sql<string>`lower(messages.mail_from)`, 'like', `%@${d}`), eb(sql<string>`lower(messages.mail_from)`, 'like', `%.${d}`)]),
      ]),
    );
  }
  return q.orderBy('messages.received_at', 'desc').orderBy('messages.id', 'desc').limit(f.limit).execute();
}

function escapeLike(s: string): string {
  // SQLite has no default LIKE escape; '%' and '_' in a search are rare enough to match loosely.
  return s;
}

export async function recipientsOf(db: Db, ids: string[]): Promise<Map<string, RecipientRow[]>> {
  const by = new Map<string, RecipientRow[]>();
  if (!ids.length) return by;
  const rows = await db.selectFrom('recipients').selectAll().where('message_id', 'in', ids).orderBy('message_id').orderBy('idx').execute();
  for (const r of rows) by.set(r.message_id, [...(by.get(r.message_id) ?? []), r]);
  return by;
}

/** Which of these messages were (at least partly) quarantined. */
export async function quarantinedIds(db: Db, ids: string[]): Promise<Map<string, string[]>> {
  const by = new Map<string, string[]>();
  if (!ids.length) return by;
  const rows = await db.selectFrom('quarantine').select(['id', 'message_id']).where('message_id', 'in', ids).execute();
  for (const r of rows) by.set(r.message_id, [...(by.get(r.message_id) ?? []), r.id]);
  return by;
}

/** Messages that are copies or reports of this one (split copies, DSNs, releases are found by their events). */
export function childMessages(db: Db, id: string): Promise<Pick<MessageRow, 'id' | 'direction' | 'received_at'>[]> {
  return db.selectFrom('messages').select(['id', 'direction', 'received_at']).where('parent_id', '=', id).orderBy('received_at').execute();
}

/** Messages by verdict per time bucket (dashboard); bucketMs wide buckets from fromMs. */
export async function verdictBuckets(db: Db, o: { fromMs: number; toMs: number; bucketMs: number; scope?: readonly string[] }): Promise<Array<{ bucket: number; verdict: string; n: number }>> {
  const bucket = sql<number>`(messages.received_at - ${o.fromMs}) / ${o.bucketMs}`;
  let q = db
    .selectFrom('messages')
    .leftJoin('recipients', 'recipients.message_id', 'messages.id')
    .where('messages.received_at', '>=', o.fromMs)
    .where('messages.received_at', '<', o.toMs)
    .select([sql<number>`cast(${bucket} as integer)`.as('bucket'), sql<string>`case when messages.state = 'rejected' then 'rejected' else coalesce(recipients.status, messages.state) end`.as('verdict'), sql<number>`count(*)`.as('n')])
    .groupBy(['bucket', 'verdict']);
  if (o.scope) q = q.where((eb) => inDomains(eb, 'recipients.domain', o.scope!));
  const rows = await q.execute();
  return rows.map((r) => ({ bucket: Number(r.bucket), verdict: String(r.verdict), n: Number(r.n) }));
}

/** The most frequent senders or recipients since fromMs. */
export async function topAddresses(db: Db, o: { by: 'sender' | 'recipient'; fromMs: number; limit: number; scope?: readonly string[] }): Promise<Array<{ address: string; n: number }>> {
  if (o.by === 'sender') {
    let q = db
      .selectFrom('messages')
      .where('messages.received_at', '>=', o.fromMs)
      .where('messages.mail_from', '!=', '')
      .select([sql<string>`lower(messages.mail_from)`.as('address'), sql<number>`count(*)`.as('n')]);
    if (o.scope) {
      const scope = o.scope;
      q = q.where((eb) => eb.or(scope.flatMap((d) => [eb(sql<string>`lower(messages.mail_from)`, 'like', `%@${d}`), eb(sql<string>`lower(messages.mail_from)`, 'like', `%.${d}`)])));
    }
    const rows = await q.groupBy('address').orderBy('n', 'desc').limit(o.limit).execute();
    return rows.map((r) => ({ address: r.address, n: Number(r.n) }));
  }
  let q = db
    .selectFrom('recipients')
    .innerJoin('messages', 'messages.id', 'recipients.message_id')
    .where('messages.received_at', '>=', o.fromMs)
    .select(['recipients.address as address', sql<number>`count(*)`.as('n')]);
  if (o.scope) q = q.where((eb) => inDomains(eb, 'recipients.domain', o.scope!));
  const rows = await q.groupBy('recipients.address').orderBy('n', 'desc').limit(o.limit).execute();
  return rows.map((r) => ({ address: r.address, n: Number(r.n) }));
}

/** The CLI's one-box lookup: messages from or to an address, or with a Message-ID; one row per recipient. */
export function lookupAddressOrMessageId(db: Db, query: string, limit: number, scope?: readonly string[]) {
  const q = query.replace(/^<|>$/g, '').toLowerCase();
  let s = db
    .selectFrom('messages')
    .leftJoin('recipients', 'recipients.message_id', 'messages.id')
    .select(['messages.id', 'messages.received_at', 'messages.mail_from', 'messages.subject', 'messages.state', 'recipients.address', 'recipients.status'])
    .where((eb) => eb.or([eb(eb.fn('lower', ['messages.mail_from']), '=', q), eb('recipients.address', '=', q), eb('messages.message_id', '=', `<${q}>`), eb('messages.message_id', '=', query)]));
  if (scope) s = s.where((eb) => inDomains(eb, 'recipients.domain', scope));
  return s.orderBy('messages.received_at', 'desc').limit(limit).execute();
}
